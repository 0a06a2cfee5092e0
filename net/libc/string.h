/* What lwIP gets for <string.h>: the kernel's own (lib/string.h). */
#include "lib/string.h"

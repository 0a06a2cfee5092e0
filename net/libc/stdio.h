/* What lwIP gets for <stdio.h>: the kernel's snprintf. */
#include "lib/printf.h"

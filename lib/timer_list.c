#include "lib/timer_list.h"

#include <stddef.h>

void timer_list_arm(struct timer_list *list, struct timer *t, uint64_t deadline, timer_fn fn, void *arg)
{
    if (t->armed)
        timer_list_cancel(list, t);
    t->deadline = deadline;
    t->fn = fn;
    t->arg = arg;
    struct timer **link = &list->head;
    while (*link && (*link)->deadline <= deadline)
        link = &(*link)->next;
    t->next = *link;
    *link = t;
    t->armed = true;
    t->armed_in_run = list->runs;
}

bool timer_list_cancel(struct timer_list *list, struct timer *t)
{
    if (!t->armed)
        return false;
    for (struct timer **link = &list->head; *link; link = &(*link)->next) {
        if (*link == t) {
            *link = t->next;
            t->next = NULL;
            t->armed = false;
            return true;
        }
    }
    t->armed = false; /* not on this list: clear the stale flag */
    return false;
}

uint64_t timer_list_next_deadline(const struct timer_list *list)
{
    return list->head ? list->head->deadline : TIMER_NEVER;
}

unsigned timer_list_run(struct timer_list *list, uint64_t now)
{
    uint64_t this_run = ++list->runs; /* timers armed from now on carry this number */
    unsigned fired = 0;
    for (;;) {
        /* The list is deadline-ordered: look through the due prefix only. */
        struct timer **link = &list->head;
        while (*link && (*link)->deadline <= now && (*link)->armed_in_run >= this_run)
            link = &(*link)->next;
        struct timer *t = *link;
        if (!t || t->deadline > now)
            break;
        *link = t->next;
        t->next = NULL;
        t->armed = false;
        fired++;
        t->fn(t, t->arg);
    }
    list->fired += fired;
    return fired;
}

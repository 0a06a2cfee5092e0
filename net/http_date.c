#include "net/http_date.h"

#include "lib/civil_time.h"
#include "lib/printf.h"

#define RFC850_PIVOT 70 /* two-digit years: 70-99 are 19xx, 00-69 are 20xx (RFC 9110, 5.6.7) */

static const char day_names[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" }; /* 1970-01-01 was a Thursday */
static const char *const long_day_names[7] = { "Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday",
                                               "Wednesday" };
static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

uint64_t wall_clock_at(const struct wall_clock *c, uint64_t now_ns)
{
    if (!c->unix_seconds)
        return 0;
    return c->unix_seconds + (now_ns > c->at_ns ? now_ns - c->at_ns : 0) / 1000000000u;
}

void http_date_format(uint64_t t, char *out)
{
    int64_t days = (int64_t)(t / SECONDS_PER_DAY);
    unsigned secs = (unsigned)(t % SECONDS_PER_DAY);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y > 9999) { /* IMF-fixdate has four year digits: the latest date it can say */
        y = 9999, m = 12, d = 31, secs = SECONDS_PER_DAY - 1;
        days = days_from_civil(9999, 12, 31);
    }
    snprintf(out, HTTP_DATE_LEN + 1, "%s, %02u %s %04u %02u:%02u:%02u GMT", day_names[days % 7], d, month_names[m - 1],
             (unsigned)y, secs / 3600, secs / 60 % 60, secs % 60);
}

/* A cursor over the text being parsed. */
struct cursor {
    const char *s;
    size_t n, i;
};

static bool literal(struct cursor *c, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++)
        if (c->i + k >= c->n || c->s[c->i + k] != lit[k])
            return false;
    c->i += k;
    return true;
}

/* Exactly `digits` decimal digits (a leading space stands for a zero when space_ok: asctime's day). */
static bool number(struct cursor *c, int digits, bool space_ok, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < digits; k++, c->i++) {
        char ch = c->i < c->n ? c->s[c->i] : 0;
        if (ch == ' ' && space_ok && k == 0)
            continue;
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (unsigned)(ch - '0');
    }
    *out = v;
    return true;
}

static bool month(struct cursor *c, unsigned *m)
{
    for (unsigned k = 0; k < 12; k++) {
        if (literal(c, month_names[k])) {
            *m = k + 1;
            return true;
        }
    }
    return false;
}

static bool time_of_day(struct cursor *c, unsigned *secs)
{
    unsigned h, mi, s;
    if (!number(c, 2, false, &h) || !literal(c, ":") || !number(c, 2, false, &mi) || !literal(c, ":") ||
        !number(c, 2, false, &s) || h > 23 || mi > 59 || s > 60)
        return false;
    *secs = h * 3600 + mi * 60 + (s == 60 ? 59 : s); /* a leap second reads as the second before it */
    return true;
}

static int day_of_week(struct cursor *c, bool long_form)
{
    for (int k = 0; k < 7; k++)
        if (literal(c, long_form ? long_day_names[k] : day_names[k]))
            return k;
    return -1;
}

bool http_date_parse(const char *s, size_t n, uint64_t *t)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    struct cursor c = { s, n, 0 };
    while (c.i < n && (s[c.i] == ' ' || s[c.i] == '\t'))
        c.i++;
    size_t start = c.i;
    unsigned y = 0, m = 0, d = 0, secs = 0;
    int wday;
    bool ok;
    if ((wday = day_of_week(&c, false)) >= 0 && literal(&c, ", ")) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        ok = number(&c, 2, false, &d) && literal(&c, " ") && month(&c, &m) && literal(&c, " ") &&
             number(&c, 4, false, &y) && literal(&c, " ") && time_of_day(&c, &secs) && literal(&c, " GMT");
    } else if (c.i = start, (wday = day_of_week(&c, true)) >= 0 && literal(&c, ", ")) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        ok = number(&c, 2, false, &d) && literal(&c, "-") && month(&c, &m) && literal(&c, "-") &&
             number(&c, 2, false, &y) && literal(&c, " ") && time_of_day(&c, &secs) && literal(&c, " GMT");
        y += y < RFC850_PIVOT ? 2000 : 1900;
    } else if (c.i = start, (wday = day_of_week(&c, false)) >= 0 && literal(&c, " ")) {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        ok = month(&c, &m) && literal(&c, " ") && number(&c, 2, true, &d) && literal(&c, " ") &&
             time_of_day(&c, &secs) && literal(&c, " ") && number(&c, 4, false, &y);
    } else {
        return false;
    }
    if (!ok || c.i != n || !civil_valid_day(y, m, d))
        return false;
    int64_t days = days_from_civil(y, m, d);
    if (days < 0)
        return false; /* before 1970: no file is that old; callers treat it as invalid */
    *t = (uint64_t)days * SECONDS_PER_DAY + secs;
    return true;
}

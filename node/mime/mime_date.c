/*
 * mime_date: RFC 5322 §3.3 date-time to UTC, for SEARCH SENTBEFORE/ON/
 * SINCE and SORT DATE (RFC 5256 §2.2).
 *
 * Happy path: "Tue, 1 Jul 2003 10:52:37 +0200" gives the UTC time and the
 * zone offset in minutes east of UTC.
 *
 * The parser is a token scanner rather than a grammar, so that the
 * obsolete forms of §4.3 and the garbage real mail carries also work:
 * comments, missing weekday or seconds, two- and three-digit years
 * (§4.3: 00-49 are 20xx, others 19xx), named zones (UT, GMT, EST...),
 * military zones (read as -0000, as §4.3 allows), asctime order ("Mon Jan
 * 2 15:04:05 2006"), RFC 850 dashes ("02-Jan-06"), AM/PM, "+05:30", no
 * zone at all (UTC), no time at all (midnight). It fails (-1) without a
 * day, a month name and a year, or with any value out of range.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

struct mime_dt {
	int day, mon, year, year_digits;
	int hour, min, sec;
	int have_tz, tz;
	int pm, am;
};

static const char mime_months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

static int
mime_dt_zone_name(const char *w, size_t n, int *tz_r)
{
	static const struct {
		const char *name;
		int min;
	} zones[] = {{"ut", 0},     {"utc", 0},    {"gmt", 0},    {"z", 0},
	             {"est", -300}, {"edt", -240}, {"cst", -360}, {"cdt", -300},
	             {"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420}};
	for (size_t i = 0; i < ARRAY_SIZE(zones); i++)
		if (strlen(zones[i].name) == n && memcmp(w, zones[i].name, n) == 0) {
			*tz_r = zones[i].min;
			return 1;
		}
	if (n == 1 && w[0] != 'j') {
		*tz_r = 0; /* military */
		return 1;
	}
	return 0;
}

static void
mime_dt_word(struct mime_dt *d, const char *w, size_t n)
{
	char lw[16];
	if (n > sizeof(lw))
		return;
	for (size_t i = 0; i < n; i++)
		lw[i] = (char)ascii_tolower((unsigned char)w[i]);
	if (n >= 3 && d->mon < 0) {
		for (int m = 0; m < 12; m++)
			if (memcmp(lw, mime_months + 3 * m, 3) == 0) {
				d->mon = m + 1;
				return;
			}
	}
	if (n == 2 && memcmp(lw, "pm", 2) == 0) {
		d->pm = 1;
		return;
	}
	if (n == 2 && memcmp(lw, "am", 2) == 0) {
		d->am = 1;
		return;
	}
	int tz;
	if (!d->have_tz && mime_dt_zone_name(lw, n, &tz)) {
		d->have_tz = 1;
		d->tz = tz;
	}
}

/* Digits at s[*i]: value (capped) and count. */
static int
mime_dt_num(const char *s, size_t len, size_t *i, int *digits_r)
{
	int v = 0, k = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		if (v < 100000)
			v = v * 10 + (s[*i] - '0');
		(*i)++;
		k++;
	}
	*digits_r = k;
	return v;
}

/* hh:mm[:ss] after the hour has been read. */
static void
mime_dt_time(struct mime_dt *d, const char *s, size_t len, size_t *i, int hour)
{
	int k;
	d->hour = hour;
	d->min = d->sec = 0;
	(*i)++; /* ':' */
	d->min = mime_dt_num(s, len, i, &k);
	if (k == 0)
		d->min = 99; /* invalid */
	if (*i + 1 < len && s[*i] == ':' && s[*i + 1] >= '0' && s[*i + 1] <= '9') {
		(*i)++;
		d->sec = mime_dt_num(s, len, i, &k);
	}
}

static void
mime_dt_scan(struct mime_dt *d, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		char c = s[i];
		int k;
		if (c == '(') {
			i = mime__comment(s, len, i, NULL);
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			size_t st = i;
			while (i < len &&
			       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
				i++;
			mime_dt_word(d, s + st, i - st);
		} else if (c >= '0' && c <= '9') {
			int v = mime_dt_num(s, len, &i, &k);
			if (i < len && s[i] == ':' && d->hour < 0)
				mime_dt_time(d, s, len, &i, v);
			else if (k >= 3 && d->year < 0) {
				d->year = v;
				d->year_digits = k;
			} else if (k <= 2 && d->day < 0 && d->year < 0)
				d->day = v;
			else if (k <= 2 && d->year < 0) {
				d->year = v;
				d->year_digits = k;
			}
		} else if ((c == '+' || c == '-') && d->hour >= 0 && !d->have_tz && i + 1 < len &&
		           s[i + 1] >= '0' && s[i + 1] <= '9') {
			i++;
			int v = mime_dt_num(s, len, &i, &k), mins = -1;
			if (k == 4 && v % 100 < 60)
				mins = v / 100 * 60 + v % 100;
			else if (k <= 2 && i + 1 < len && s[i] == ':') {
				i++;
				int m = mime_dt_num(s, len, &i, &k);
				mins = k == 2 && m < 60 ? v * 60 + m : -1;
			} else if (k <= 2)
				mins = v * 60;
			if (mins >= 0 && mins < 100 * 60) {
				d->have_tz = 1;
				d->tz = c == '-' ? -mins : mins;
			}
		} else {
			i++;
		}
	}
}

static int64_t
mime_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
mime_date_parse(const char *s, size_t len, time_t *t_r, int *tz_min_r)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct mime_dt d = {.day = -1, .mon = -1, .year = -1, .hour = -1};
	mime_dt_scan(&d, s, len);
	if (d.day < 1 || d.mon < 1 || d.year < 0)
		return -1;
	if (d.year_digits <= 2)
		d.year += d.year < 50 ? 2000 : 1900;
	else if (d.year_digits == 3)
		d.year += 1900;
	int leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
	if (d.year < 1900 || d.year > 9999 || d.day > mdays[d.mon - 1] ||
	    (d.mon == 2 && d.day == 29 && !leap))
		return -1;
	if (d.hour < 0)
		d.hour = d.min = d.sec = 0;
	if (d.pm && d.hour >= 1 && d.hour < 12)
		d.hour += 12;
	else if (d.am && d.hour == 12)
		d.hour = 0;
	if (d.hour > 23 || d.min > 59 || d.sec > 60)
		return -1;
	int64_t t = mime_days_from_civil(d.year, d.mon, d.day) * 86400 + d.hour * 3600 +
	            d.min * 60 + d.sec - (int64_t)d.tz * 60;
	*t_r = (time_t)t;
	*tz_min_r = d.tz;
	return 0;
}

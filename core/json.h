/* Small JSON helpers the engine needs without a Lua state: checking that a
 * producer's payload is one JSON value, reading the flat header objects of
 * envelopes and records, and escaping strings for output. All are pure
 * functions: thread-safe, no allocation except into the caller's buffer. */
#ifndef HW_JSON_H
#define HW_JSON_H

#include <stddef.h>
#include "buf.h"

/* Checks that text[0..len) is exactly one JSON value (surrounding white space
 * allowed), nested at most 1000 deep. On error returns -1 and writes
 * "line L, column C: what" into err, C counting bytes, at the byte where the
 * text stops being JSON. `what` is one of (fuzz/fuzz_claim.c holds the same
 * list): control character inside a string (escape it); bad \u escape;
 * a \u escape of a lone low surrogate; a \u escape of a high surrogate
 * without its low one; bad escape in a string; invalid UTF-8 in a string;
 * unterminated string; incomplete number; invalid number; digit expected
 * after '.'; digit expected in exponent; value expected, found end of input;
 * value expected, found 'c' (or: found byte 0xNN); nested deeper than 1000
 * levels; object key (a string) expected; ':' expected after object key;
 * ',' or '}' expected; ',' or ']' expected; unexpected text after the JSON
 * value. */
int hw_json_check(const char *text, size_t len, char *err, size_t errlen);

/* One member of a flat JSON object whose values are strings or numbers. */
typedef struct hw_json_field {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len; /* raw text; a string without quotes, still escaped */
    int is_string;
} hw_json_field;

/* Reads a flat object {"k":"v","n":1,...} (nested values are skipped over).
 * Calls fn for each member; returns 0, or -1 if the text is not such an
 * object with nothing but white space around it. Keys are passed raw (still
 * escaped), like string values. */
int hw_json_flat_object(const char *text, size_t len, void (*fn)(void *ud, const hw_json_field *f), void *ud);

/* Calls fn with the text of each element of a JSON array (nested at most
 * 1000 deep, nothing but white space around it); returns 0, or -1 if the
 * text is no such array (fn may have been called for the elements before
 * the fault). */
int hw_json_array_each(const char *text, size_t len, void (*fn)(void *ud, const char *v, size_t v_len), void *ud);

/* Decodes the escapes of a JSON string body (no quotes) into out. */
void hw_json_unescape(hw_buf *out, const char *s, size_t len);

/* The length of the UTF-8 sequence at p (1 to 4 bytes, none past end), or
 * 0 if the bytes there are not valid UTF-8 (overlong, a surrogate, past
 * U+10FFFF, or cut short). */
size_t hw_utf8_seq_len(const char *p, const char *end);

/* Appends s as a quoted JSON string. Bytes that are not valid UTF-8 become
 * \u00XX escapes of the byte, so any payload can be shown as JSON. */
void hw_json_quote(hw_buf *out, const char *s, size_t len);

#endif

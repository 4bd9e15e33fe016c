#include "text_cap.h"

#include <string.h>

void hw_text_add_capped_at(hw_buf *out, const char *s, size_t len, size_t max)
{
    if (len <= max) {
        hw_buf_add(out, s, len);
        return;
    }
    /* Back up over continuation bytes (10xxxxxx) so no character is cut in
     * two; at most 3, so text that is not UTF-8 is cut at the cap. */
    size_t cut = max;
    for (int i = 0; i < 3 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; i++) cut--;
    if (((unsigned char)s[cut] & 0xC0) == 0x80) cut = max;
    hw_buf_add(out, s, cut);
    hw_buf_addf(out, "... [truncated, %zu bytes in all]", len);
}

void hw_text_add_capped(hw_buf *out, const char *s, size_t len) { hw_text_add_capped_at(out, s, len, HW_TEXT_MAX); }

void hw_text_arg(hw_args *args, const char *s)
{
    size_t len = strlen(s);
    if (len <= HW_TEXT_MAX) {
        hw_args_add(args, s, len);
        return;
    }
    hw_buf capped = {0};
    hw_text_add_capped(&capped, s, len);
    hw_args_add(args, capped.data, capped.len);
    hw_buf_free(&capped);
}

/* The option table (core/options.c): every setting is well-formed, its
 * default is what hworker_config_init gives and passes its own check, a
 * value is refused outside its range with a message naming the setting as
 * written, and text, choices, aliases and MiB are read as documented. */
#include <math.h>

#include "check.h"
#include "options.h"

static void test_table_is_well_formed(void)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    char err[256] = "";
    int n = 0;
    for (const hw_option *o = hw_options; o->name; o++, n++) {
        CHECK(o->field != NULL && o->help != NULL && o->help[0] != '\0');
        CHECK(hw_option_find(o->name) == o);
        if (o->alias) CHECK(hw_option_find(o->alias) == o);
        for (const hw_option *p = hw_options; p < o; p++) CHECK(strcmp(p->name, o->name) != 0);
        CHECK(hw_option_get(&cfg, o) == o->def);
        CHECK(o->min <= o->def && o->def <= o->max);
        if (o->kind == HW_OPT_CHOICE) {
            size_t count = 0;
            while (o->choices[count]) count++;
            CHECK(o->def >= 0 && o->def < (double)count);
        }
        /* The default passes the option's own check. */
        hworker_config copy = cfg;
        CHECK(hw_option_set(&copy, o, o->def, o->name, err, sizeof err) == 0);
    }
    CHECK(n >= 20);
    cfg.name = "q";
    CHECK(hw_options_check(&cfg, err, sizeof err) == 0);
}

static void test_ranges(void)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    char err[256] = "";
    const hw_option *lease = hw_option_find("lease");
    CHECK(lease != NULL);
    CHECK(hw_option_set(&cfg, lease, 0.05, "--lease", err, sizeof err) == -1);
    CHECK_STR(err, "--lease must be at least 0.1 seconds (got 0.05)");
    CHECK(cfg.lease == 30); /* unchanged by a refused value */
    CHECK(hw_option_set(&cfg, lease, 0.1, "--lease", err, sizeof err) == 0 && cfg.lease == 0.1);
    CHECK(hw_option_set(&cfg, lease, 2e9, "lease", err, sizeof err) == -1);
    CHECK_STR(err, "lease must be at most 1000000000 seconds (got 2e+09)");
    CHECK(hw_option_set(&cfg, lease, INFINITY, "lease", err, sizeof err) == -1);
    CHECK_STR(err, "lease must be a finite number (got inf)");
    CHECK(hw_option_set(&cfg, lease, NAN, "lease", err, sizeof err) == -1);

    const hw_option *timeout = hw_option_find("timeout");
    CHECK(hw_option_set(&cfg, timeout, 0, "timeout", err, sizeof err) == -1);
    CHECK_STR(err, "timeout must be > 0 seconds (got 0)");

    const hw_option *shards = hw_option_find("shards");
    CHECK(hw_option_set(&cfg, shards, 2.5, "--shards", err, sizeof err) == -1);
    CHECK_STR(err, "--shards must be a whole number (got 2.5)");
    CHECK(hw_option_set(&cfg, shards, 1025, "--shards", err, sizeof err) == -1);
    CHECK(hw_option_set(&cfg, shards, 1024, "--shards", err, sizeof err) == 0 && cfg.shards == 1024);

    /* A value set in the struct by a C host is checked at create time, by
     * the C field's name. */
    hworker_config_init(&cfg);
    cfg.name = "q";
    cfg.prefetch = 0;
    CHECK(hw_options_check(&cfg, err, sizeof err) == -1);
    CHECK_STR(err, "config: prefetch must be at least 1 (got 0)");
    hworker_config_init(&cfg);
    cfg.job_timeout = -1;
    CHECK(hw_options_check(&cfg, err, sizeof err) == -1);
    CHECK_HAS(err, "config: job_timeout must be > 0 seconds");
}

static void test_text_choices_and_units(void)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    char err[256] = "";
    CHECK(hw_option_find("memory-limit") == hw_option_find("memory_limit_mb"));
    CHECK(hw_option_find("min-replicas-timeout") == hw_option_find("min_replicas_timeout"));
    CHECK(hw_option_find("no_such") == NULL && hw_option_find("lease_") == NULL && hw_option_find("leas") == NULL);

    const hw_option *memory = hw_option_find("memory_limit");
    CHECK(hw_option_set_text(&cfg, memory, "16", "--memory-limit", err, sizeof err) == 0);
    CHECK(cfg.memory_limit == (size_t)16 << 20);
    CHECK(hw_option_get(&cfg, memory) == 16);
    CHECK(hw_option_set_text(&cfg, memory, "16MB", "--memory-limit", err, sizeof err) == -1);
    CHECK_STR(err, "--memory-limit must be a number of MiB (got \"16MB\")");
    CHECK(hw_option_set_text(&cfg, memory, "", "--memory-limit", err, sizeof err) == -1);

    const hw_option *level = hw_option_find("log_level");
    CHECK(hw_option_set_text(&cfg, level, "silent", "log_level", err, sizeof err) == 0);
    CHECK(cfg.log_level > HWORKER_LOG_ERROR);
    CHECK(hw_option_set_text(&cfg, level, "warn", "log_level", err, sizeof err) == 0 &&
          cfg.log_level == HWORKER_LOG_WARN);
    CHECK(hw_option_set_text(&cfg, level, "loud", "--log-level", err, sizeof err) == -1);
    CHECK_STR(err, "--log-level must be \"debug\", \"info\", \"warn\", \"error\" or \"silent\" (got \"loud\")");

    const hw_option *sandbox = hw_option_find("sandbox");
    CHECK(hw_option_set_text(&cfg, sandbox, "trusted", "sandbox", err, sizeof err) == 0 && cfg.trusted == 1);
    char text[32];
    hw_option_format(sandbox, hw_option_get(&cfg, sandbox), text, sizeof text);
    CHECK_STR(text, "trusted");
    const hw_option *onx = hw_option_find("on_exception");
    CHECK(hw_option_set_text(&cfg, onx, "retry", "on_exception", err, sizeof err) == 0);
    CHECK(cfg.on_exception == HWORKER_EXCEPTION_RETRIES);
    CHECK(hw_option_set(&cfg, onx, 2, "on_exception", err, sizeof err) == -1);
}

/* The public setter reads what a user writes, by the setting's name. */
static void test_config_set(void)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    char err[256] = "";
    CHECK(hworker_config_set(&cfg, "lease", "45", err, sizeof err) == 0 && cfg.lease == 45);
    CHECK(hworker_config_set(&cfg, "memory-limit", "16", err, sizeof err) == 0);
    CHECK(cfg.memory_limit == (size_t)16 << 20);
    CHECK(hworker_config_set(&cfg, "timeout", "2.5", err, sizeof err) == 0 && cfg.job_timeout == 2.5);
    CHECK(hworker_config_set(&cfg, "on_exception", "retry", err, sizeof err) == 0);
    CHECK(cfg.on_exception == HWORKER_EXCEPTION_RETRIES);
    CHECK(hworker_config_set(&cfg, "lease", "0", err, sizeof err) == -1);
    CHECK_STR(err, "lease must be at least 0.1 seconds (got 0)");
    CHECK(cfg.lease == 45);
    CHECK(hworker_config_set(&cfg, "leese", "30", err, sizeof err) == -1);
    CHECK_STR(err, "config: no setting is called \"leese\" (hworker-lua options lists them)");
    CHECK(hworker_config_set(&cfg, "lease", NULL, err, sizeof err) == -1);
    CHECK(hworker_config_set(&cfg, NULL, "1", NULL, 0) == -1); /* no err buffer: still refused */
}

static void test_json_values(void)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.lease = 7.5;
    hw_buf out = {0};
    hw_options_values_json(&cfg, &out);
    CHECK_HAS(out.data, "\"lease\":7.5,");
    CHECK_HAS(out.data, "\"memory_limit\":64,");
    CHECK_HAS(out.data, "\"on_exception\":\"failure\"");
    CHECK(out.data[0] == '{' && out.data[out.len - 1] == '}');
    hw_buf_free(&out);
}

int main(void)
{
    test_table_is_well_formed();
    test_ranges();
    test_text_choices_and_units();
    test_config_set();
    test_json_values();
    return check_report("test_options");
}

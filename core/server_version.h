/* Which Redis versions hworker runs on: those with BLMOVE and RPOP with a
 * count, 6.2 and later. Kept apart from the start-up check that uses it so
 * that a spec can test the decision: the specs have only a current Redis. */
#ifndef HW_SERVER_VERSION_H
#define HW_SERVER_VERSION_H

/* 1 if `version` (INFO's redis_version, "7.0.15") is too old for hworker,
 * else 0. A version that does not parse as MAJOR.MINOR is not refused: some
 * managed services report their own. Pure; thread-safe. */
int hw_redis_too_old(const char *version);

#endif

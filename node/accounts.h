/*
 * accounts: domains, users, aliases, quotas and cluster configuration as
 * replicated commands, for the admin API and the node's own start-up.
 *
 * Every operation validates its input first (a refused request changes
 * nothing and says why), builds the command, hashes passwords off the loop
 * (Argon2id in the thread pool), submits through raft and reports the
 * outcome once this node has applied it.
 */
#ifndef MAILNODE_ACCOUNTS_H
#define MAILNODE_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

/* status: 0 done; -EINVAL bad input, -EEXIST, -ENOENT, -ELOOP, -ENOTEMPTY,
 * -EPERM, -EAGAIN (temporary: no leader; retry). message is for humans. */
typedef void (*accounts_cb)(void *arg, int status, const char *message);

/* Lower-case and check "local@domain" (or "@domain" when catchall is
 * allowed). Returns 0, or -1 with *error_r. out holds 321 bytes. */
int accounts_address_normalize(const char *in, char *out, int catchall, const char **error_r);
int accounts_domain_normalize(const char *in, char *out, const char **error_r);

void accounts_cluster_init(int demo, accounts_cb cb, void *arg);
void accounts_domain_add(const char *domain, accounts_cb cb, void *arg);
void accounts_domain_del(const char *domain, accounts_cb cb, void *arg);
/* quota 0: the cluster default. The password is copied. */
void accounts_user_add(const char *address, const char *password, size_t pwlen,
                       uint64_t quota_bytes, uint64_t quota_msgs, accounts_cb cb, void *arg);
void accounts_user_del(const char *address, accounts_cb cb, void *arg);
void accounts_user_passwd(const char *address, const char *password, size_t pwlen, accounts_cb cb,
                          void *arg);
void accounts_user_enable(const char *address, int enabled, accounts_cb cb, void *arg);
void accounts_quota_set(const char *address, uint64_t bytes, uint64_t msgs, accounts_cb cb,
                        void *arg);
void accounts_alias_add(const char *address, const char *const *targets, size_t n, accounts_cb cb,
                        void *arg);
void accounts_alias_del(const char *address, accounts_cb cb, void *arg);
/* Keys: [a-z0-9._-]+; known keys are checked for their type. */
void accounts_config_set(const char *key, const char *value, accounts_cb cb, void *arg);
void accounts_config_del(const char *key, accounts_cb cb, void *arg);
/* Check a config key and value without setting it. Returns 0 or -1. */
int accounts_config_check(const char *key, const char *value, const char **error_r);

#endif

/*
 * admin: the admin API the CLI talks to: JSON over HTTP on the node's
 * Unix socket <data>/admin.sock (mode 0600: the file system decides who
 * may administer the node). Writes go through raft like every other
 * change, so the API works the same on any member.
 *
 *   GET    /v1/status                        the cluster, as this node sees it
 *   POST   /v1/members        {id, address}  add a node (as a voter)
 *   DELETE /v1/members/ID                    remove a node
 *   POST   /v1/leadership     {id}           transfer leadership (id 0: any)
 *   GET    /v1/domains                       list
 *   POST   /v1/domains        {name}
 *   DELETE /v1/domains/NAME
 *   GET    /v1/users                         list
 *   GET    /v1/users/ADDRESS                 one, with usage
 *   POST   /v1/users          {address, password, quota_bytes, quota_messages}
 *   DELETE /v1/users/ADDRESS
 *   POST   /v1/users/ADDRESS/password  {password}
 *   POST   /v1/users/ADDRESS/enabled   {enabled}
 *   POST   /v1/users/ADDRESS/quota     {bytes, messages}
 *   GET    /v1/aliases                       list
 *   POST   /v1/aliases        {address, targets: [...]}
 *   DELETE /v1/aliases/ADDRESS
 *   GET    /v1/config                        list
 *   GET    /v1/config/KEY
 *   PUT    /v1/config/KEY     {value}
 *   DELETE /v1/config/KEY
 *
 * Errors: {"error": "..."} with 400 (bad input), 404 (not found), 409
 * (exists, in use, loop), 403 (not permitted), 503 (no leader: retry).
 */
#ifndef MAILNODE_ADMIN_H
#define MAILNODE_ADMIN_H

struct node;

void admin_init(struct node *n);
/* GET /v1/debug/dump: the canonical dump of the replicated index. */
void admin_debug_init(struct node *n);

#endif

/*
 * A monitor or agent written in C, on the NATS C client (nats.c, Debian's libnats-dev), for
 * test/integration/nats-c-client.test.ts: opsbus's NATS surface must work for clients that are not
 * opsbus's own (nats.js). Connection from the environment: NATS_URL, NATS_USER, NATS_PASSWORD,
 * NATS_INBOX_PREFIX (optional; the shipped permissions give each user a private inbox prefix).
 * The message body is read from stdin. Prints one JSON line; exits 0 unless it could not connect.
 *
 *   nats-client js-publish SUBJECT MSG_ID   JetStream publish: {"stream":…,"seq":…,"duplicate":…}
 *   nats-client request SUBJECT [BEARER]    request-reply (Authorization header when BEARER is
 *                                           given): the reply's body as it came
 *   nats-client publish SUBJECT             core publish, then a flush: {"published":true} or the
 *                                           server's refusal {"error":…}
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 10000

static char *read_stdin(int *len) {
  size_t cap = 4096, n = 0, got;
  char *buf = malloc(cap);
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  *len = (int)n;
  return buf;
}

/* A JSON string literal of `s` (the texts printed here are ASCII error messages). */
static void print_json_string(const char *s) {
  putchar('"');
  for (; s != NULL && *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    if ((unsigned char)*s >= 0x20) putchar(*s);
  }
  putchar('"');
}

static void print_error(natsConnection *nc, natsStatus s) {
  const char *text = NULL;
  if (nc != NULL) natsConnection_GetLastError(nc, &text);
  printf("{\"error\":");
  print_json_string(text != NULL && *text ? text : natsStatus_GetText(s));
  printf(",\"status\":");
  print_json_string(natsStatus_GetText(s));
  printf("}\n");
}

static natsStatus connect_from_env(natsConnection **nc) {
  natsOptions *opts = NULL;
  const char *url = getenv("NATS_URL"), *user = getenv("NATS_USER"), *pass = getenv("NATS_PASSWORD");
  const char *inbox = getenv("NATS_INBOX_PREFIX");
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, url != NULL ? url : NATS_DEFAULT_URL);
  if (s == NATS_OK && user != NULL) s = natsOptions_SetUserInfo(opts, user, pass);
  if (s == NATS_OK && inbox != NULL && *inbox) s = natsOptions_SetCustomInboxPrefix(opts, inbox);
  if (s == NATS_OK) s = natsConnection_Connect(nc, opts);
  natsOptions_Destroy(opts);
  return s;
}

static natsStatus js_publish(natsConnection *nc, const char *subject, const char *msg_id, const char *data, int len) {
  jsCtx *js = NULL;
  jsPubAck *ack = NULL;
  jsPubOptions po;
  jsErrCode jerr = 0;
  natsStatus s = natsConnection_JetStream(&js, nc, NULL);
  if (s == NATS_OK) s = jsPubOptions_Init(&po);
  if (s == NATS_OK) {
    po.MsgId = msg_id;
    po.MaxWait = TIMEOUT_MS;
    s = js_Publish(&ack, js, subject, data, len, &po, &jerr);
  }
  if (s == NATS_OK) {
    printf("{\"stream\":");
    print_json_string(ack->Stream);
    printf(",\"seq\":%llu,\"duplicate\":%s}\n", (unsigned long long)ack->Sequence, ack->Duplicate ? "true" : "false");
  }
  jsPubAck_Destroy(ack);
  jsCtx_Destroy(js);
  return s;
}

static natsStatus request(natsConnection *nc, const char *subject, const char *bearer, const char *data, int len) {
  natsMsg *msg = NULL, *reply = NULL;
  natsStatus s = natsMsg_Create(&msg, subject, NULL, data, len);
  if (s == NATS_OK && bearer != NULL) {
    char header[512];
    snprintf(header, sizeof header, "Bearer %s", bearer);
    s = natsMsgHeader_Set(msg, "Authorization", header);
  }
  if (s == NATS_OK) s = natsConnection_RequestMsg(&reply, nc, msg, TIMEOUT_MS);
  if (s == NATS_OK) printf("%.*s\n", natsMsg_GetDataLength(reply), natsMsg_GetData(reply));
  natsMsg_Destroy(reply);
  natsMsg_Destroy(msg);
  return s;
}

/* A refused publish comes back as the server's -ERR, read before the flush's PONG. */
static natsStatus publish(natsConnection *nc, const char *subject, const char *data, int len) {
  const char *text = NULL;
  natsStatus s = natsConnection_Publish(nc, subject, data, len);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, TIMEOUT_MS);
  if (s == NATS_OK) s = natsConnection_GetLastError(nc, &text);
  if (s == NATS_OK) printf("{\"published\":true}\n");
  return s;
}

int main(int argc, char **argv) {
  natsConnection *nc = NULL;
  int len = 0;
  char *data;
  natsStatus s;
  if (argc < 3 || (strcmp(argv[1], "js-publish") == 0 && argc < 4)) {
    fprintf(stderr, "usage: %s js-publish SUBJECT MSG_ID | request SUBJECT [BEARER] | publish SUBJECT (body on stdin)\n", argv[0]);
    return 2;
  }
  data = read_stdin(&len);
  s = connect_from_env(&nc);
  if (s != NATS_OK) {
    print_error(NULL, s);
    return 1;
  }
  if (strcmp(argv[1], "js-publish") == 0) s = js_publish(nc, argv[2], argv[3], data, len);
  else if (strcmp(argv[1], "request") == 0) s = request(nc, argv[2], argc > 3 ? argv[3] : NULL, data, len);
  else if (strcmp(argv[1], "publish") == 0) s = publish(nc, argv[2], data, len);
  else s = NATS_INVALID_ARG;
  if (s != NATS_OK) print_error(nc, s);
  natsConnection_Destroy(nc);
  free(data);
  nats_Close();
  return 0;
}

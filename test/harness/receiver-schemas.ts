/**
 * The peers' formats, written from their documentation (not from our builders), so a test
 * receiver can refuse a body its real counterpart would refuse: Alertmanager's webhook v4
 * (notify/webhook/webhook.go Message, template/template.go Data), Slack Block Kit for incoming
 * webhooks, PagerDuty Events API v2 (our own intake's validator, which follows PagerDuty's rules),
 * and a Teams Workflows message with an Adaptive Card 1.4.
 */
import { z } from "zod";
import { validateEvent } from "../../src/http/pagerduty-event.js";
import type { IntegrationKind } from "../../src/notify/types.js";

/** RFC 3339 as Go's encoding/json writes time.Time (Go's zero time included). */
const Rfc3339 = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, "an RFC 3339 time");
const KV = z.record(z.string(), z.string());

export const WebhookV4 = z.strictObject({
  receiver: z.string().min(1),
  status: z.enum(["firing", "resolved"]),
  alerts: z.array(
    z.strictObject({
      status: z.enum(["firing", "resolved"]),
      labels: KV,
      annotations: KV,
      startsAt: Rfc3339,
      endsAt: Rfc3339,
      generatorURL: z.string(),
      fingerprint: z.string(),
    }),
  ),
  groupLabels: KV,
  commonLabels: KV,
  commonAnnotations: KV,
  externalURL: z.string(),
  version: z.literal("4"),
  groupKey: z.string().min(1),
  truncatedAlerts: z.number().int().min(0),
  /** opsbus's addition. */
  incident: z.looseObject({
    id: z.string().min(1),
    key: z.string().min(1),
    moment: z.enum(["opened", "escalated", "reopened", "acknowledged", "resolved", "repeat"]),
    moment_id: z.string().min(1),
    service: z.string().min(1),
    env: z.string().min(1),
    severity: z.enum(["P0", "P1", "P2", "P3"]),
    title: z.string(),
    status: z.string(),
    started_at: Rfc3339,
    acknowledged_at: Rfc3339.optional(),
    ack_url: z.string().url().optional(),
  }),
});

const PlainText = z.strictObject({ type: z.literal("plain_text"), text: z.string().min(1), emoji: z.boolean().optional() });
const SlackText = (max: number) =>
  z.strictObject({ type: z.enum(["mrkdwn", "plain_text"]), text: z.string().min(1).max(max), emoji: z.boolean().optional(), verbatim: z.boolean().optional() });
const SlackBlock = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("header"), text: PlainText.extend({ text: z.string().min(1).max(150) }), block_id: z.string().optional() }),
  z
    .strictObject({
      type: z.literal("section"),
      text: SlackText(3000).optional(),
      fields: z.array(SlackText(2000)).min(1).max(10).optional(),
      block_id: z.string().optional(),
    })
    .refine((b) => b.text || b.fields, "a section needs text or fields"),
  z.strictObject({ type: z.literal("context"), elements: z.array(SlackText(3000)).min(1).max(10), block_id: z.string().optional() }),
  z.strictObject({
    type: z.literal("actions"),
    elements: z
      .array(
        z.strictObject({
          type: z.literal("button"),
          text: PlainText.extend({ text: z.string().min(1).max(75) }),
          url: z.string().url().max(3000).optional(),
          style: z.enum(["primary", "danger"]).optional(),
          action_id: z.string().max(255).optional(),
          value: z.string().max(2000).optional(),
        }),
      )
      .min(1)
      .max(25),
    block_id: z.string().optional(),
  }),
  z.strictObject({ type: z.literal("divider"), block_id: z.string().optional() }),
]);
export const SlackMessage = z.strictObject({ text: z.string().min(1), blocks: z.array(SlackBlock).max(50) });

const CardElement = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("TextBlock"),
    text: z.string(),
    wrap: z.boolean().optional(),
    size: z.enum(["Small", "Default", "Medium", "Large", "ExtraLarge"]).optional(),
    weight: z.enum(["Lighter", "Default", "Bolder"]).optional(),
    color: z.enum(["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]).optional(),
    isSubtle: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal("FactSet"), facts: z.array(z.strictObject({ title: z.string(), value: z.string() })) }),
]);
export const TeamsMessage = z.strictObject({
  type: z.literal("message"),
  attachments: z
    .array(
      z.strictObject({
        contentType: z.literal("application/vnd.microsoft.card.adaptive"),
        contentUrl: z.null(),
        content: z.strictObject({
          $schema: z.literal("http://adaptivecards.io/schemas/adaptive-card.json"),
          type: z.literal("AdaptiveCard"),
          version: z.enum(["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]),
          body: z.array(CardElement).min(1),
          actions: z.array(z.strictObject({ type: z.literal("Action.OpenUrl"), title: z.string().min(1), url: z.string().url() })).optional(),
          msteams: z.looseObject({ width: z.enum(["Full"]).optional() }).optional(),
        }),
      }),
    )
    .length(1),
});

const issuesOf = (r: { success: boolean; error?: z.ZodError }): string[] =>
  r.success ? [] : r.error!.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);

/** What each peer would say about a body: [] when it takes it. */
export const VALIDATORS: Record<Exclude<IntegrationKind, "email">, (body: unknown) => string[]> = {
  webhook: (b) => issuesOf(WebhookV4.safeParse(b)),
  slack: (b) => issuesOf(SlackMessage.safeParse(b)),
  msteams: (b) => issuesOf(TeamsMessage.safeParse(b)),
  pagerduty: (b) => {
    const v = validateEvent(b);
    return v.ok ? [] : v.errors;
  },
};

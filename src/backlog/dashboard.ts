/** The backlog dashboard (runbook shape): counts by status and priority, overdue items, top services. */
import { BACKLOG_PRIORITIES, BACKLOG_STATUSES, type BacklogItem, type BacklogStatus } from "./store.js";

/** Done and canceled items are never overdue and do not count towards top_services. */
export const CLOSED_STATUSES: BacklogStatus[] = ["done", "canceled"];

export interface BacklogDashboard {
  env?: string;
  total: number;
  status_counts: Record<string, number>;
  priority_counts: Record<string, number>;
  overdue_count: number;
  overdue: Array<Pick<BacklogItem, "id" | "service" | "category" | "title" | "priority" | "status" | "owner" | "due_date">>;
  top_services: Array<{ service: string; count: number }>;
}

export function backlogDashboard(items: BacklogItem[], now: Date, opts: { env?: string; overdueLimit?: number; topServices?: number } = {}): BacklogDashboard {
  const today = now.toISOString().slice(0, 10);
  const status_counts = Object.fromEntries(BACKLOG_STATUSES.map((s) => [s, 0])) as Record<string, number>;
  const priority_counts = Object.fromEntries(BACKLOG_PRIORITIES.map((p) => [p, 0])) as Record<string, number>;
  const perService = new Map<string, number>();
  const overdue: BacklogItem[] = [];
  for (const i of items) {
    status_counts[i.status] = (status_counts[i.status] ?? 0) + 1;
    priority_counts[i.priority] = (priority_counts[i.priority] ?? 0) + 1;
    if (CLOSED_STATUSES.includes(i.status)) continue;
    perService.set(i.service, (perService.get(i.service) ?? 0) + 1);
    if (i.due_date < today) overdue.push(i);
  }
  overdue.sort((a, b) => (a.due_date < b.due_date ? -1 : a.due_date > b.due_date ? 1 : a.priority < b.priority ? -1 : a.priority > b.priority ? 1 : a.id < b.id ? -1 : 1));
  const top_services = [...perService]
    .map(([service, count]) => ({ service, count }))
    .sort((a, b) => b.count - a.count || (a.service < b.service ? -1 : 1))
    .slice(0, opts.topServices ?? 10);
  return {
    ...(opts.env ? { env: opts.env } : {}),
    total: items.length,
    status_counts,
    priority_counts,
    overdue_count: overdue.length,
    overdue: overdue.slice(0, opts.overdueLimit ?? 50).map(({ id, service, category, title, priority, status, owner, due_date }) => ({ id, service, category, title, priority, status, owner, due_date })),
    top_services,
  };
}

/**
 * Who may do what, from the policy's `control.roles`, by platform user id or group/role id.
 * Operators may kill (and acknowledge, resolve, mute); approvers approve and deny tier 3
 * requests; admins resume, set budgets and change the phase. Read-only verbs need any role.
 */
import type { Policy } from '../policy/types.js';

export const ROLES = ['operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  /** `slack:user:U123`, `discord:user:123`, `console:user:local`, `cli:user:alice`. */
  readonly id: string;
  /** Groups or roles the platform says the actor is in (`slack:group:S1`, `discord:role:456`). */
  readonly groups?: readonly string[];
}

/** The roles an actor holds under this policy (an empty set: no role at all). */
export function rolesOf(policy: Policy, actor: Actor): ReadonlySet<Role> {
  const ids = new Set([actor.id, ...(actor.groups ?? [])]);
  const r = policy.doc.control.roles;
  const held = new Set<Role>();
  if (r.operators.some((i) => ids.has(i))) held.add('operator');
  if (r.approvers.some((i) => ids.has(i))) held.add('approver');
  if (r.admins.some((i) => ids.has(i))) held.add('admin');
  return held;
}

/** Is any of `allowed` held? `any` means any role at all. */
export function permits(held: ReadonlySet<Role>, allowed: readonly Role[] | 'any' | 'everyone'): boolean {
  if (allowed === 'everyone') return true;
  if (allowed === 'any') return held.size > 0;
  return allowed.some((r) => held.has(r));
}

/** "an operator, approver or admin" for refusals. */
export function describeRoles(allowed: readonly Role[] | 'any' | 'everyone'): string {
  const list = allowed === 'any' || allowed === 'everyone' ? [...ROLES] : [...allowed];
  if (list.length === 1) return `an ${list[0]}`;
  return `an ${list.slice(0, -1).join(', ')} or ${list.at(-1)}`;
}

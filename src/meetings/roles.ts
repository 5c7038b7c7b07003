import type { GraphApi } from '../graph/index.js';

export interface RoleOptions {
  graph: GraphApi;
  /** Members of this group may schedule anywhere (INSTRUCTOR_GROUP_ID). */
  instructorGroupId?: string;
  /** Members of this group may read reports (ADMIN_GROUP_ID). */
  adminGroupId?: string;
  /** Answers are cached this long per user and team; a changed role shows within it. */
  cacheTtlMs?: number;
  now?: () => number;
}

export interface Decision {
  allowed: boolean;
  /** How the answer was reached, for logs: `team-owner`, `instructor-group`, or `none`. */
  via: 'team-owner' | 'instructor-group' | 'admin-group' | 'none';
}

/**
 * Who may do what. Instructors (may schedule) are the owners of the class team, or members of
 * the configured instructor group. Admins (may read reports) are members of the admin group.
 * Answers come from Graph and are cached briefly.
 */
export class Roles {
  private readonly cache = new Map<string, { at: number; decision: Decision }>();
  private readonly teams = new Map<
    string,
    { at: number; members: Promise<Map<string, string[]>> }
  >();
  private readonly now: () => number;

  constructor(private readonly options: RoleOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The plain-language rule, for refusals. */
  get whoCanSchedule(): string {
    return this.options.instructorGroupId
      ? "the class team's owners and members of your school's instructor group"
      : "the class team's owners";
  }

  canSchedule(userId: string, teamGroupId: string | undefined): Promise<Decision> {
    return this.cached(`schedule|${userId}|${teamGroupId ?? ''}`, async () => {
      if (teamGroupId && (await this.teamMembers(teamGroupId)).get(userId)?.includes('owner'))
        return { allowed: true, via: 'team-owner' };
      const group = this.options.instructorGroupId;
      if (group && (await this.options.graph.checkMemberGroups(userId, [group])).includes(group)) {
        return { allowed: true, via: 'instructor-group' };
      }
      return { allowed: false, via: 'none' };
    });
  }

  isAdmin(userId: string): Promise<Decision> {
    return this.cached(`admin|${userId}`, async () => {
      const group = this.options.adminGroupId;
      if (group && (await this.options.graph.checkMemberGroups(userId, [group])).includes(group))
        return { allowed: true, via: 'admin-group' };
      return { allowed: false, via: 'none' };
    });
  }

  /**
   * A team's members by user id, with their roles (`owner` or none), read from Graph once per
   * team for the cache's lifetime: every member's check costs one call, not one each. A failed
   * lookup is not cached.
   */
  teamMembers(teamGroupId: string): Promise<Map<string, string[]>> {
    const hit = this.teams.get(teamGroupId);
    if (hit && this.now() - hit.at < (this.options.cacheTtlMs ?? 60_000)) return hit.members;
    const members = this.options.graph
      .listTeamMembers(teamGroupId)
      .then((list) => new Map(list.map((m) => [m.userId, m.roles])));
    this.teams.set(teamGroupId, { at: this.now(), members });
    members.catch(() => this.teams.delete(teamGroupId));
    if (this.teams.size > 5000) this.teams.delete(this.teams.keys().next().value!);
    return members;
  }

  private async cached(key: string, decide: () => Promise<Decision>): Promise<Decision> {
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < (this.options.cacheTtlMs ?? 60_000)) return hit.decision;
    const decision = await decide();
    this.cache.set(key, { at: this.now(), decision });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return decision;
  }
}

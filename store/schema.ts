/**
 * secbot's single DynamoDB table: the schema as data, and the key of every item kind.
 *
 * Table: partition key `pk` (S), sort key `sk` (S); one global secondary index `gsi1`
 * (`gsi1pk` S, `gsi1sk` S, projection ALL) for "by state / due time" queries; TTL attribute `ttl`
 * (epoch seconds). Every item carries `entity` (its kind). Timestamps are ISO-8601 UTC strings.
 *
 * | item                  | pk                     | sk                           | gsi1pk / gsi1sk                              | ttl                  |
 * | --------------------- | ---------------------- | ---------------------------- | -------------------------------------------- | -------------------- |
 * | event claim           | `EVENT#<eventID>`      | `EVENT`                      | —                                            | claim + 14 d         |
 * | verification header   | `VER#<id>`             | `VER`                        | `VER#<state>` / deadline (OPEN, DUO_PENDING) or closedAt (closed) | closed + 90 d |
 * | verification call     | `VER#<id>`             | `CALL#<eventTime>#<eventID>` | —                                            | join + 97 d          |
 * | open-verification lock| `OPEN#<engineerKey>`   | `OPEN`                       | —                                            | —                    |
 * | engineer's verification | `ENG#<engineerKey>`  | `VER#<createdAt>#<id>`       | —                                            | creation + 97 d      |
 * | alert                 | `ALERT#<id>`           | `ALERT`                      | `PAGE#PENDING` / nextAttemptAt while the page is due, then `ALERT#<state>` / createdAt | resolved + 90 d |
 * | silence               | `SILENCE#<id>`         | `SILENCE`                    | `SILENCE` / expiresAt (until deleted)        | expiry + 30 d        |
 * | day counters          | `COUNTERS#<YYYY-MM-DD>`| `COUNTERS`                   | —                                            | day + 400 d          |
 * | last drain run        | `RUN#drain`            | `LAST`                       | —                                            | —                    |
 * | run lease             | `LEASE#<name>`         | `LEASE`                      | —                                            | —                    |
 * | account activity      | `ACCOUNTS`             | `ACCOUNT#<id>`               | —                                            | —                    |
 * | account's day (lag)   | `ACCOUNTDAY#<YYYY-MM-DD>` | `ACCOUNT#<id>`            | —                                            | day + 400 d          |
 * | watchdog incident     | `INCIDENTS`            | `INCIDENT#<key>`             | —                                            | —                    |
 * | rule stage override   | `RULESTAGES`           | `RULE#<ruleId>`              | —                                            | —                    |
 * | rule's day (engineers)| `RULEDAY#<YYYY-MM-DD>` | `RULE#<ruleId>`              | —                                            | day + 400 d          |
 *
 * - **Event claim** — two-phase dedupe of CloudTrail `eventID`s: `status: claimed` with `claimedBy`
 *   and `leaseUntil` (conditional put: absent, expired, or lease run out), then `status: decided` with
 *   the decision summary. Decided → duplicate; live lease → busy (leave the message for redelivery).
 * - **Verification header** — state `OPEN | DUO_PENDING | CONFIRMED | ESCALATED`, `callCount`, the
 *   `joined` map (eventID → eventTime: the membership, updated atomically with the count so a call
 *   joins exactly once), the first few calls (`preview`), `history` of transitions, DM reference and
 *   `dmStatus`, `needsUpdate`, Duo fields. Calls are separate items under the same pk so hundreds fit;
 *   the `joined` map (~60 bytes a call) bounds one verification to roughly 6,000 calls (400 KB item).
 * - **Open-verification lock** — points at the engineer's one OPEN verification. Joining is a
 *   conditional update on the header (`state = OPEN`); a lock that points at a verification no longer
 *   OPEN is replaced conditionally (on the old pointer), so replicas agree on one OPEN verification.
 * - **Engineer's verification** — a pointer written when a verification is created, so an engineer's
 *   own recent verifications (their App Home) are one Query, newest first, without a second index.
 * - **Alert** — id `a_<eventID>` or `a_<verificationId>` (the PagerDuty `dedup_key`), created with a
 *   conditional put; the page outbox (`pageStatus`, attempts, `nextAttemptAt`) sits on the item.
 *   Its one-click remediations sit on it too, as a map `remediations.<r1…>` (plan, status, who, when) so
 *   each is claimed by a conditional write on its own path (store/remediations.ts).
 * - **Counters** — one item per day, one top-level number attribute `c:<name>` per counter (atomic ADD).
 * - **Account activity** — the latest heartbeat and the latest decided call of one monitored account,
 *   each moved forward only (a conditional SET: never back in time); one partition lists them all.
 *   **Account's day** — the histogram of the lag from `eventTime` to decision (`c:<bucket>`, ADD).
 * - **Incident** — a watchdog condition (store/watch.ts): created conditionally (absent or CLOSED), so
 *   it alerts once; `OPEN → RECOVERING → CLOSED` by conditional updates.
 * - **Rule stage override** — `/secbot promote | demote`: the stage, who, when; read once per drain.
 *   **Rule's day** — string sets `asked` / `wouldAsk` of the engineers a rule asked (live) or would
 *   have asked (staged) that day (ADD, each bounded in size).
 *
 * DynamoDB deletes expired items lazily (within days) and dynalite never does, so every read treats
 * an item whose `ttl` has passed as absent, and conditional creates may overwrite such an item.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** The table's shape, as data: `ensureTable` checks an existing table against it; Terraform can too. */
export const TABLE_SCHEMA = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      name: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
      projection: 'ALL',
    },
  ],
  ttlAttribute: 'ttl',
  billingMode: 'PAY_PER_REQUEST',
} as const;

export const GSI1 = TABLE_SCHEMA.globalSecondaryIndexes[0].name;

/** The CreateTable request for the schema (on-demand billing). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const s = TABLE_SCHEMA;
  const attrs = new Map<string, 'S'>();
  attrs.set(s.partitionKey.name, s.partitionKey.type);
  attrs.set(s.sortKey.name, s.sortKey.type);
  for (const g of s.globalSecondaryIndexes) {
    attrs.set(g.partitionKey.name, g.partitionKey.type);
    attrs.set(g.sortKey.name, g.sortKey.type);
  }
  return {
    TableName: tableName,
    BillingMode: s.billingMode,
    AttributeDefinitions: [...attrs].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: [
      { AttributeName: s.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: s.sortKey.name, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: s.globalSecondaryIndexes.map((g) => ({
      IndexName: g.name,
      KeySchema: [
        { AttributeName: g.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: g.sortKey.name, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: g.projection },
    })),
  };
}

/** Item keys, one function per kind, so the layout above lives in one place. */
export const keys = {
  event: (eventId: string) => ({ pk: `EVENT#${eventId}`, sk: 'EVENT' }),
  verification: (id: string) => ({ pk: `VER#${id}`, sk: 'VER' }),
  verificationCall: (id: string, eventTime: string, eventId: string) => ({
    pk: `VER#${id}`,
    sk: `CALL#${eventTime}#${eventId}`,
  }),
  callPrefix: 'CALL#',
  openLock: (engineerKey: string) => ({ pk: `OPEN#${engineerKey}`, sk: 'OPEN' }),
  engineerVerification: (engineerKey: string, createdAt: string, id: string) => ({
    pk: `ENG#${engineerKey}`,
    sk: `VER#${createdAt}#${id}`,
  }),
  engineerPrefix: (engineerKey: string) => `ENG#${engineerKey}`,
  alert: (id: string) => ({ pk: `ALERT#${id}`, sk: 'ALERT' }),
  silence: (id: string) => ({ pk: `SILENCE#${id}`, sk: 'SILENCE' }),
  counters: (day: string) => ({ pk: `COUNTERS#${day}`, sk: 'COUNTERS' }),
  drainRun: () => ({ pk: 'RUN#drain', sk: 'LAST' }),
  lease: (name: string) => ({ pk: `LEASE#${name}`, sk: 'LEASE' }),
  accounts: 'ACCOUNTS',
  account: (id: string) => ({ pk: 'ACCOUNTS', sk: `ACCOUNT#${id}` }),
  accountDayPk: (day: string) => `ACCOUNTDAY#${day}`,
  accountDay: (day: string, id: string) => ({ pk: `ACCOUNTDAY#${day}`, sk: `ACCOUNT#${id}` }),
  incidents: 'INCIDENTS',
  incident: (key: string) => ({ pk: 'INCIDENTS', sk: `INCIDENT#${key}` }),
  ruleStages: 'RULESTAGES',
  ruleStage: (ruleId: string) => ({ pk: 'RULESTAGES', sk: `RULE#${ruleId}` }),
  ruleDayPk: (day: string) => `RULEDAY#${day}`,
  ruleDay: (day: string, ruleId: string) => ({ pk: `RULEDAY#${day}`, sk: `RULE#${ruleId}` }),
} as const;

/** gsi1 partition values. */
export const gsi = {
  verificationState: (state: string) => `VER#${state}`,
  pagePending: 'PAGE#PENDING',
  alertState: (state: string) => `ALERT#${state}`,
  silences: 'SILENCE',
} as const;

/** The `entity` attribute: what kind of item a row is. */
export type Entity =
  | 'event'
  | 'verification'
  | 'call'
  | 'lock'
  | 'engineer_ref'
  | 'alert'
  | 'silence'
  | 'counters'
  | 'run'
  | 'lease'
  | 'account'
  | 'account_day'
  | 'incident'
  | 'rule_stage'
  | 'rule_day';

/** Counter attributes are `c:<name>` so free-form names never clash with the item's own attributes. */
export const COUNTER_PREFIX = 'c:';

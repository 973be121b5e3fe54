/** What a call acted on, in words, from the usual request parameters ("user build-bot", "bucket logs"). */
import type { CloudTrailRecord } from './record.js';

/** requestParameters keys that name the resource, most specific first, with the word to show. */
const RESOURCE_KEYS: [string, string][] = [
  ['policyArn', 'policy'],
  ['userName', 'user'],
  ['roleName', 'role'],
  ['groupName', 'group'],
  ['bucketName', 'bucket'],
  ['groupId', 'security group'],
  ['instanceId', 'instance'],
  ['snapshotId', 'snapshot'],
  ['imageId', 'image'],
  ['dBSnapshotIdentifier', 'DB snapshot'],
  ['dBClusterSnapshotIdentifier', 'DB cluster snapshot'],
  ['dBInstanceIdentifier', 'DB instance'],
  ['functionName', 'function'],
  ['secretId', 'secret'],
  ['keyId', 'KMS key'],
  ['detectorId', 'detector'],
  ['networkAclId', 'network ACL'],
  ['routeTableId', 'route table'],
  ['vpcId', 'VPC'],
  ['trailName', 'trail'],
  ['name', 'name'],
  ['serialNumber', 'MFA device'],
  ['accessKeyId', 'access key'],
];

export function resourceOf(record: CloudTrailRecord): string | undefined {
  const p = record.requestParameters;
  if (!p || typeof p !== 'object') return undefined;
  const parts: string[] = [];
  for (const [key, word] of RESOURCE_KEYS) {
    if (!Object.hasOwn(p, key)) continue;
    const v = p[key];
    if (typeof v === 'string' && v !== '') parts.push(`${word} ${v}`);
    if (parts.length === 2) break;
  }
  return parts.length > 0 ? parts.join(', ') : undefined;
}

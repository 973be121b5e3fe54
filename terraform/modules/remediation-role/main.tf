# secbot's remediation role, one per workload account. Staff press a remediation on a channel alert;
# secbot (its role in the security account, and nothing else) assumes this role in the call's account
# and makes exactly one call. The role may make only the calls secbot's remediations make
# (remediation/types.ts REMEDIATION_COMMANDS; test/terraform/remediation-role.test.ts keeps the two equal):
#
#   ec2:RevokeSecurityGroupIngress          AuthorizeSecurityGroupIngress → revoke the rules it added
#   iam:UpdateAccessKey                     CreateAccessKey → deactivate that key
#   iam:DeleteLoginProfile                  CreateLoginProfile → delete the console password
#   iam:Detach{User,Role,Group}Policy       Attach…Policy → detach exactly that policy
#   iam:Delete{User,Role,Group}Policy       Put…Policy → delete exactly that inline policy
#   cloudtrail:StartLogging, cloudtrail:StartEventDataStoreIngestion   StopLogging / StopEventDataStoreIngestion
#   s3:PutBucketPublicAccessBlock, s3:PutAccountPublicAccessBlock       public access block removed / public bucket policy
#   iam:AttachUserPolicy, iam:AttachRolePolicy                           quarantine: AWSDenyAll only
#
# Nothing here can grant access: the attach actions are limited to the AWS managed AWSDenyAll policy
# (condition iam:PolicyARN), and there is no iam:Put*Policy (which would let whoever holds the role
# write itself an Allow *). Quarantine therefore attaches AWSDenyAll rather than AWS's inline
# "revoke older sessions" policy: the deny stops every session for as long as it is attached; revoke
# the sessions in the IAM console before lifting it.
#
# The security account's side: the hub module's remediation_role_name (= this module's name) grants
# secbot's own role sts:AssumeRole on arn:<partition>:iam::*:role/<name> within the organization.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  arn     = "arn:${data.aws_partition.current.partition}"
  account = data.aws_caller_identity.current.account_id
  users   = "${local.arn}:iam::${local.account}:user/*"
  roles   = "${local.arn}:iam::${local.account}:role/*"
  groups  = "${local.arn}:iam::${local.account}:group/*"
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "SecbotOnly"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.secbot_role_arn]
    }
  }
}

resource "aws_iam_role" "remediation" {
  name                 = var.name
  description          = "secbot: one-click remediations pressed by security staff (with Duo) on secbot's alerts"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "remediation" {
  statement {
    sid       = "RevokeSecurityGroupIngress"
    effect    = "Allow"
    actions   = ["ec2:RevokeSecurityGroupIngress"]
    resources = ["${local.arn}:ec2:*:${local.account}:security-group/*"]
  }

  statement {
    sid    = "DisableUserCredentials"
    effect = "Allow"
    actions = [
      "iam:DeleteLoginProfile",
      "iam:UpdateAccessKey",
    ]
    resources = [local.users]
  }

  statement {
    sid    = "RemovePolicies"
    effect = "Allow"
    actions = [
      "iam:DeleteGroupPolicy",
      "iam:DeleteRolePolicy",
      "iam:DeleteUserPolicy",
      "iam:DetachGroupPolicy",
      "iam:DetachRolePolicy",
      "iam:DetachUserPolicy",
    ]
    resources = [local.users, local.roles, local.groups]
  }

  statement {
    sid    = "QuarantineWithDenyAllOnly"
    effect = "Allow"
    actions = [
      "iam:AttachRolePolicy",
      "iam:AttachUserPolicy",
    ]
    resources = [local.users, local.roles]

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = ["${local.arn}:iam::aws:policy/AWSDenyAll"]
    }
  }

  statement {
    sid    = "RestartLogging"
    effect = "Allow"
    actions = [
      "cloudtrail:StartEventDataStoreIngestion",
      "cloudtrail:StartLogging",
    ]
    resources = [
      "${local.arn}:cloudtrail:*:${local.account}:trail/*",
      "${local.arn}:cloudtrail:*:${local.account}:eventdatastore/*",
    ]
  }

  statement {
    sid       = "RestoreBucketPublicAccessBlock"
    effect    = "Allow"
    actions   = ["s3:PutBucketPublicAccessBlock"]
    resources = ["${local.arn}:s3:::*"]
  }

  # The account-level block has no resource ARN: IAM only accepts "*" for it.
  statement {
    sid       = "RestoreAccountPublicAccessBlock"
    effect    = "Allow"
    actions   = ["s3:PutAccountPublicAccessBlock"]
    resources = ["*"]
  }

  statement {
    sid    = "NeverTouchProtectedRoles"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
    ]
    resources = concat([aws_iam_role.remediation.arn], var.protected_role_arns)
  }
}

resource "aws_iam_role_policy" "remediation" {
  name   = "secbot-remediation"
  role   = aws_iam_role.remediation.id
  policy = data.aws_iam_policy_document.remediation.json
}

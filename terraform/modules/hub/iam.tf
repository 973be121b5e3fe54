# secbot's runtime permissions: only the SQS, DynamoDB and STS actions its code calls with its own
# credentials, on the hub's queue, dead-letter queue and table (and the remediation role, when on).
# test/terraform/iam.test.ts scans the code for every such AWS SDK command and fails when this list and
# the code disagree. The remediation calls themselves (IAM, EC2, S3, CloudTrail) are made with the
# assumed role's credentials and granted by that role in each workload account.
#
# Deliberately left out, though the code can call them:
# - sqs:CreateQueue, dynamodb:CreateTable, dynamodb:UpdateTimeToLive — only when the queue or table is
#   missing (the embedded queue and table of a trial run). Here Terraform makes them, and secbot only
#   checks them: a missing table must fail loudly (secbot doctor says so) rather than be recreated empty.
# - sqs:SendMessage — only `secbot enqueue` (an operator's test tool, run with the operator's own
#   credentials) and the embedded queue's sample seeding send messages; the bot never does.
#
# SQS authorises its batch calls by the single-message action: DeleteMessageBatch needs
# sqs:DeleteMessage, ChangeMessageVisibilityBatch sqs:ChangeMessageVisibility.

data "aws_iam_policy_document" "secbot" {
  statement {
    sid    = "DrainQueue"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.events.arn]
  }

  statement {
    sid    = "InspectDeadLetterQueue"
    effect = "Allow"
    actions = [
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  statement {
    sid    = "ReadWriteTable"
    effect = "Allow"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.secbot.arn]
  }

  statement {
    sid       = "QueryIndex"
    effect    = "Allow"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.secbot.arn}/index/*"]
  }

  statement {
    sid    = "CheckTable"
    effect = "Allow"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive",
    ]
    resources = [aws_dynamodb_table.secbot.arn]
  }

  # One-click remediation: secbot assumes the remediation role in the call's account (any account of the
  # organization); what that role may do is granted in the workload accounts, not here.
  dynamic "statement" {
    for_each = var.remediation_role_name != null ? [1] : []
    content {
      sid       = "AssumeRemediationRole"
      effect    = "Allow"
      actions   = ["sts:AssumeRole"]
      resources = ["arn:${data.aws_partition.current.partition}:iam::*:role/${var.remediation_role_name}"]
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceOrgID"
        values   = [var.organization_id]
      }
    }
  }

  # Receiving from a queue encrypted with a customer managed key needs the key.
  dynamic "statement" {
    for_each = local.customer_key ? [1] : []
    content {
      sid       = "DecryptQueueMessages"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_policy" "secbot" {
  name        = "${var.name}-runtime"
  description = "secbot: drain the events queue and use its DynamoDB table"
  policy      = data.aws_iam_policy_document.secbot.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "secbot" {
  for_each   = toset(var.secbot_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.secbot.arn
}

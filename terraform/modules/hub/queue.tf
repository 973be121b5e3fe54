# The queue secbot drains, its dead-letter queue, and the queue policy that admits exactly the
# organization's collectors: the hub bus's rule, the SNS topics of the accounts that use SNS, and (for a
# shadow deployment) the main hub's rule.

locals {
  queue_name       = "${var.name}-events"
  dead_letter_name = "${var.name}-events-dlq"
  customer_key     = var.kms_key_arn != null
}

resource "aws_sqs_queue" "dead_letter" {
  name = local.dead_letter_name
  # A standard queue's messages expire by their first enqueue time, so the dead-letter queue keeps
  # them at least as long as the queue does: the maximum.
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.customer_key ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.customer_key ? 300 : null
  tags                              = var.tags
}

resource "aws_sqs_queue" "events" {
  name                              = local.queue_name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  receive_wait_time_seconds         = var.receive_wait_time_seconds
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.customer_key ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.customer_key ? 300 : null

  # A message secbot cannot decode is reported and left alone (never deleted): after
  # max_receive_count receives SQS moves it here, for a human to look at.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}

data "aws_iam_policy_document" "events_queue" {
  dynamic "statement" {
    for_each = var.event_bus_delivery ? [1] : []
    content {
      sid       = "HubEventBusRule"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.events.arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.to_queue[0].arn]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.sns_collector_account_ids) > 0 ? [1] : []
    content {
      sid       = "CollectorTopics"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.events.arn]
      principals {
        type        = "Service"
        identifiers = ["sns.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values = [
          for account in var.sns_collector_account_ids :
          "arn:${data.aws_partition.current.partition}:sns:*:${account}:${var.sns_topic_name}"
        ]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.sender_rule_arns) > 0 ? [1] : []
    content {
      sid       = "MainHubRule"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.events.arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = var.sender_rule_arns
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.events.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.events_queue.json
}

# EventBridge puts an event it could not deliver to the queue (after its retries) on the dead-letter
# queue too, so nothing is lost silently.
data "aws_iam_policy_document" "dead_letter" {
  dynamic "statement" {
    for_each = var.event_bus_delivery ? [1] : []
    content {
      sid       = "HubEventBusRuleFailures"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dead_letter.arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.to_queue[0].arn]
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dead_letter.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter.json
}

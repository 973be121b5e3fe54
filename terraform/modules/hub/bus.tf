# The recommended delivery path: collectors forward matching CloudTrail events to this custom event bus
# (any account of the organization may put events on it); one rule moves them to the queue.

data "aws_partition" "current" {}

resource "aws_cloudwatch_event_bus" "hub" {
  count = var.event_bus_delivery ? 1 : 0
  name  = var.name
  tags  = var.tags
}

data "aws_iam_policy_document" "bus" {
  count = var.event_bus_delivery ? 1 : 0

  statement {
    sid       = "OrganizationCollectors"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.hub[0].arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = [var.organization_id]
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "hub" {
  count          = var.event_bus_delivery ? 1 : 0
  event_bus_name = aws_cloudwatch_event_bus.hub[0].name
  policy         = data.aws_iam_policy_document.bus[0].json
}

resource "aws_cloudwatch_event_rule" "to_queue" {
  count          = var.event_bus_delivery ? 1 : 0
  name           = "${var.name}-to-queue"
  description    = "secbot: every CloudTrail event the organization's collectors forward, to the queue"
  event_bus_name = aws_cloudwatch_event_bus.hub[0].name
  # The collectors have already filtered by the rules' pattern; only they can put events here. Their
  # heartbeats come as Scheduled Events (source aws.events), or as explicit secbot.heartbeat events.
  event_pattern = jsonencode({ source = [{ prefix = "aws." }, "secbot.heartbeat"] })
  # Read-only calls (Get*, List*, Describe*) that some rules match are delivered only to rules in this state.
  state = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
  tags  = var.tags
}

resource "aws_cloudwatch_event_target" "queue" {
  count          = var.event_bus_delivery ? 1 : 0
  rule           = aws_cloudwatch_event_rule.to_queue[0].name
  event_bus_name = aws_cloudwatch_event_bus.hub[0].name
  target_id      = "secbot-queue"
  arn            = aws_sqs_queue.events.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }

  depends_on = [aws_sqs_queue_policy.events, aws_sqs_queue_policy.dead_letter]
}

# A shadow deployment's queue gets a copy of every event (see docs/operating.md, "Rolling out new rules").
resource "aws_cloudwatch_event_target" "mirror" {
  # count, not for_each: a shadow hub's queue ARN is not known until it is created.
  count          = var.event_bus_delivery ? length(var.mirror_queue_arns) : 0
  rule           = aws_cloudwatch_event_rule.to_queue[0].name
  event_bus_name = aws_cloudwatch_event_bus.hub[0].name
  target_id      = "secbot-mirror-${count.index}"
  arn            = var.mirror_queue_arns[count.index]
}

# What to watch (docs/operating.md): events waiting too long (secbot down or stuck), anything in the
# dead-letter queue (a message secbot could not decode, or an event EventBridge could not deliver), and
# the hub rule failing to deliver.

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name}-events-waiting"
  alarm_description   = "secbot is not draining its queue: check the service and `secbot doctor`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.events.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_queue_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Messages in secbot's dead-letter queue: read them, fix the cause, move them back."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "hub_rule_failures" {
  count               = var.event_bus_delivery ? 1 : 0
  alarm_name          = "${var.name}-hub-delivery-failures"
  alarm_description   = "The hub event bus could not deliver events to secbot's queue (check the queue policy and key)."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { EventBusName = aws_cloudwatch_event_bus.hub[0].name, RuleName = aws_cloudwatch_event_rule.to_queue[0].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

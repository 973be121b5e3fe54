# An organization with a security account (the hub: queue, table, event bus; secbot runs there) and two
# workload accounts (collectors). Workload A forwards to the hub event bus, the recommended path;
# workload B shows the SNS alternative. In practice pick one path for every account.
#
# The collectors' patterns come from secbot's rules: regenerate eventbridge-pattern.json with
# `npm run pattern:write` whenever the rules change (a test fails until you do).

locals {
  tags          = { application = "secbot" }
  event_pattern = file("${path.module}/eventbridge-pattern.json")
}

provider "aws" {
  alias  = "security"
  region = var.region
  assume_role {
    role_arn = "arn:aws:iam::${var.security_account_id}:role/${var.deploy_role_name}"
  }
  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "workload_a"
  region = var.region
  assume_role {
    role_arn = "arn:aws:iam::${var.workload_a_account_id}:role/${var.deploy_role_name}"
  }
  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "workload_b"
  region = var.region
  assume_role {
    role_arn = "arn:aws:iam::${var.workload_b_account_id}:role/${var.deploy_role_name}"
  }
  default_tags {
    tags = local.tags
  }
}

module "hub" {
  source    = "../../modules/hub"
  providers = { aws = aws.security }

  organization_id           = var.organization_id
  sns_collector_account_ids = [var.workload_b_account_id]
  secbot_role_names         = var.secbot_role_names
  remediation_role_name     = var.remediation_role_name
  mirror_queue_arns         = var.shadow ? [module.hub_shadow[0].queue_arn] : []
}

# A second secbot, in shadow mode with candidate rules, sees every event the first one sees and sends
# nothing: its own queue (a copy from the hub bus) and its own table (its claims must not make the
# production secbot take events for duplicates).
module "hub_shadow" {
  count     = var.shadow ? 1 : 0
  source    = "../../modules/hub"
  providers = { aws = aws.security }

  name               = "secbot-shadow"
  table_name         = "secbot-shadow"
  organization_id    = var.organization_id
  event_bus_delivery = false
  sender_rule_arns   = [module.hub.queue_rule_arn]
}

module "collector_workload_a" {
  source    = "../../modules/collector"
  providers = { aws = aws.workload_a, aws.hub = aws.security }

  event_pattern     = local.event_pattern
  delivery          = "event_bus"
  hub_event_bus_arn = module.hub.event_bus_arn
}

module "collector_workload_b" {
  source    = "../../modules/collector"
  providers = { aws = aws.workload_b, aws.hub = aws.security }

  event_pattern = local.event_pattern
  delivery      = "sns"
  hub_queue_arn = module.hub.queue_arn
}

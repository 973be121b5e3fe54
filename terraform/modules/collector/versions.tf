terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70.0, < 7.0.0"
      # aws: the monitored account and region. aws.hub: the security account, in the same region; used
      # only by SNS delivery, to subscribe the hub queue to this account's topic.
      configuration_aliases = [aws.hub]
    }
  }
}

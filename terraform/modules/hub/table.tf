# secbot's single table. Keys, index and TTL follow TABLE_SCHEMA in store/schema.ts, and
# test/terraform/table.test.ts fails when they drift apart: keep the names literal here.

resource "aws_dynamodb_table" "secbot" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "gsi1pk"
    type = "S"
  }

  attribute {
    name = "gsi1sk"
    type = "S"
  }

  global_secondary_index {
    name            = "gsi1"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  # Always encrypted at rest: with the customer managed key when one is given, else AWS owned.
  server_side_encryption {
    enabled     = local.customer_key
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}

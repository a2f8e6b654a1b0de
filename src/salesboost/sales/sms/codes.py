"""The error codes of sms_outreach raised by the outbox and the consent ledger: the tool lists them without
importing those two (and the database with them) at start-up."""

SMS_NO_CONSENT = "SMS_NO_CONSENT"
SMS_OPTED_OUT = "SMS_OPTED_OUT"
SMS_DAILY_LIMIT = "SMS_DAILY_LIMIT"

"""Population database: ID-number rules now; the signed SOAP client and its simulator to come."""

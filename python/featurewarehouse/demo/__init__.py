"""The card-payments demo domain: a data generator, a Postgres loader, and the demo flow."""

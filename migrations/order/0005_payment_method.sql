-- An order names the payment method registered with the payment service instead of keeping the provider's
-- token (tokens stay in the payment service's database). Earlier rows keep what they had under the new name.
ALTER TABLE orders RENAME COLUMN payment_token TO payment_method;

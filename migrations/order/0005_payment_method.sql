-- An order names the payment method registered with the payment service instead of keeping the provider's
-- token (tokens stay in the payment service's database). Rows from before held tokens: they are blanked.
ALTER TABLE orders RENAME COLUMN payment_token TO payment_method;
UPDATE orders SET payment_method = 'pm_none';

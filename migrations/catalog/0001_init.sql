-- Catalog: a category tree, products with variants, and one SKU namespace shared by products and variants.

CREATE TABLE categories (
  id text PRIMARY KEY,
  name text NOT NULL,
  parent_id text REFERENCES categories (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Sibling names are unique; NULLS NOT DISTINCT makes that hold for root categories too.
  UNIQUE NULLS NOT DISTINCT (parent_id, name)
);

CREATE TABLE products (
  id text PRIMARY KEY,
  -- Listing order and cursor: strictly increasing, never reused, unlike timestamps that can tie.
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  sku text NOT NULL UNIQUE,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  price_amount bigint NOT NULL CHECK (price_amount >= 0),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  category_id text REFERENCES categories (id),
  -- [{ sku, attributes, price: { amount, currency } | null }]; their SKUs are also rows of product_skus.
  variants jsonb NOT NULL DEFAULT '[]',
  active boolean NOT NULL DEFAULT true,
  -- Optimistic-locking guard of UpdateProduct.
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  search tsvector GENERATED ALWAYS AS (to_tsvector('english', name || ' ' || description)) STORED
);

-- Listing newest first, active only by default, optionally within categories or a price range.
CREATE INDEX products_active_seq ON products (seq DESC) WHERE active;
CREATE INDEX products_category_seq ON products (category_id, seq DESC);
CREATE INDEX products_price ON products (price_amount);
CREATE INDEX products_search ON products USING gin (search);

-- Every sellable SKU (the product's own and its variants') names one product: the uniqueness guard across
-- both, and the lookup of GetProduct by SKU and of GetPrices.
CREATE TABLE product_skus (
  sku text PRIMARY KEY,
  product_id text NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  is_variant boolean NOT NULL
);
CREATE INDEX product_skus_product ON product_skus (product_id);

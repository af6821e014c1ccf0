CREATE TABLE half_written (id integer PRIMARY KEY);
SELECT no_such_function();

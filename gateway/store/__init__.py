"""PostgreSQL storage: the pool, migrations, and one module of SQL per aggregate."""

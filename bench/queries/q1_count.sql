SELECT COUNT(*) AS COUNTS FROM read_parquet(['<LAKE>/dataset/taxi_2019_04.parquet'])

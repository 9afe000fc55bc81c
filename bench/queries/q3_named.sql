SELECT pickup_location_id AS location_id, COUNT(*) AS counts FROM partitioned WHERE date >= '2019-04-01' AND date <= '2019-04-10' GROUP BY 1 ORDER BY 2 DESC LIMIT 20

select cast(null as timestamp) as as_of where 1 = 0

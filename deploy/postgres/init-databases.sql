-- One database per service (docker-compose). Each service migrates its own schema at start-up.
CREATE DATABASE payment;
CREATE DATABASE fraud;
CREATE DATABASE inventory;
CREATE DATABASE notification;

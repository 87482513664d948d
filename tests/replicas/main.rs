//! Several real `belfry-server` processes sharing the real PostgreSQL and
//! Redis: fan-out and read sync across replicas, ids in commit order under
//! concurrent publishing, a replica killed mid-stream, Redis restarted and
//! PostgreSQL stopped mid-test.

mod cluster;

mod failures;
mod fanout;

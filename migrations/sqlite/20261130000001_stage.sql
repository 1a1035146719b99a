-- On stage: join codes, the presenter's place, results held for a reveal, and votes per
-- minute (see the PostgreSQL migration of the same name).
create table site_keys (
    name  text not null primary key,
    value integer not null
);
insert into site_keys (name, value) values ('join_codes', abs(random() % 9007199254740991));

alter table polls add column stage_poll_id integer;
alter table polls add column held boolean not null default false;
alter table polls add column closed_minute integer;
update polls set closed_minute = cast(strftime('%s', closed_at) as integer) / 60 where closed_at is not null;

create table poll_minutes (
    poll_id integer not null references polls (id) on delete cascade,
    minute  integer not null,
    votes   integer not null check (votes > 0),
    primary key (poll_id, minute)
);

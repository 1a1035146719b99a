-- The home page's counts, kept with each write instead of counted on each read: a poll
-- created or deleted moves poll_count, a committed batch of ballots moves vote_count.
alter table themes add column poll_count integer not null default 0;
alter table themes add column vote_count integer not null default 0;
update themes set
    poll_count = (select count(*) from polls p where p.theme_id = themes.id),
    vote_count = (select coalesce(sum(o.votes), 0) from polls p join options o on o.poll_id = p.id
                   where p.theme_id = themes.id);

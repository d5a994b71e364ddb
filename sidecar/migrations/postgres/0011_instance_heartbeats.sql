-- Instance heartbeats on PostgreSQL (see ../0011_instance_heartbeats.sql); instants are the server's clock, so
-- desktops whose clocks disagree still agree on who stopped beating.
CREATE TABLE sidecar_instances (
    instance_id   TEXT PRIMARY KEY,
    machine_name  TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    heartbeat_at  TIMESTAMPTZ NOT NULL
);

-- Every committed pool change reaches every sidecar (sidecar/pool/peers.py): the trigger NOTIFYs inside the
-- writing transaction, so PostgreSQL delivers it on commit only, and never for a change that was rolled back. The
-- payload stays small (the org's id, the reason, the writing process as `origin`, the lease holder concerned);
-- the receiver re-reads the row. A deleted row is gone by then: its display columns travel instead.
-- `sweatshop.origin` is set on each of a sidecar's connections; `sweatshop.reason` only by a transaction that
-- must name a reason the row change cannot show (a reaped lease looks like a released one).
CREATE FUNCTION sweatshop_pool_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reason TEXT;
    payload JSONB;
BEGIN
    IF TG_OP = 'INSERT' THEN
        reason := CASE WHEN NEW.source = 'discovered' THEN 'discovered' ELSE 'registered' END;
        payload := jsonb_build_object('id', NEW.id, 'holder', NEW.holder_instance, 'agent', NEW.assigned_agent_id);
    ELSIF TG_OP = 'DELETE' THEN
        reason := 'removed';
        payload := jsonb_build_object(
            'id', OLD.id, 'holder', OLD.holder_instance, 'agent', OLD.assigned_agent_id,
            'org', jsonb_build_object(
                'id', OLD.id, 'alias', OLD.alias, 'username', OLD.username, 'sf_org_id', OLD.sf_org_id,
                'instance_url', OLD.instance_url, 'status', OLD.status, 'expires_at', OLD.expires_at,
                'created_at', OLD.created_at, 'source', OLD.source));
    ELSE
        IF NEW.status = 'expired' AND OLD.status <> 'expired' THEN
            reason := 'expired';
        ELSIF NEW.status = 'leased' AND OLD.status <> 'leased' THEN
            reason := 'claimed';
        ELSIF OLD.status = 'leased' AND NEW.status <> 'leased' THEN
            reason := COALESCE(NULLIF(current_setting('sweatshop.reason', true), ''), 'released');
        ELSIF NEW.hydration IS NOT DISTINCT FROM 'ready' AND OLD.hydration IS DISTINCT FROM NEW.hydration THEN
            reason := 'registered';
        ELSIF (NEW.username, NEW.sf_org_id, NEW.instance_url, NEW.login_url, NEW.expires_at)
              IS DISTINCT FROM (OLD.username, OLD.sf_org_id, OLD.instance_url, OLD.login_url, OLD.expires_at) THEN
            reason := 'discovered';
        ELSE
            RETURN NULL;  -- deployment bookkeeping: no client is told of it on SQLite either
        END IF;
        payload := jsonb_build_object(
            'id', NEW.id, 'holder', COALESCE(OLD.holder_instance, NEW.holder_instance),
            'agent', COALESCE(OLD.assigned_agent_id, NEW.assigned_agent_id));
    END IF;
    payload := payload || jsonb_build_object(
        'reason', reason, 'origin', NULLIF(current_setting('sweatshop.origin', true), ''));
    PERFORM pg_notify('sweatshop_pool', payload::TEXT);
    RETURN NULL;
END
$$;

CREATE TRIGGER scratch_orgs_notify AFTER INSERT OR UPDATE OR DELETE ON scratch_orgs
    FOR EACH ROW EXECUTE FUNCTION sweatshop_pool_notify();

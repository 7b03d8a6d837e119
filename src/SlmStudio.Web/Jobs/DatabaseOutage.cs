using Npgsql;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// Tells a database that is briefly unreachable (a PostgreSQL restart or fail-over, a dropped network connection) from
/// a real error. Work that must not be lost (a run's progress, its lease) waits out the first and fails on the second.
/// Only PostgreSQL errors count: SQLite is a local file, and a locked one is a fault the caller reports at once.
/// </summary>
public static class DatabaseOutage
{
    /// <summary>How long a training keeps retrying its database writes before it gives up on the database.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(2);

    public static bool IsTransient(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                // 57P01..57P03: the server is shutting down or starting up; 08xxx: the connection broke.
                case PostgresException pg when pg.IsTransient || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState.StartsWith("08", StringComparison.Ordinal):
                    return true;
                case PostgresException:
                    return false;
                // A connection that could not be opened or was cut: no PostgreSQL error code, just a broken socket.
                case NpgsqlException npgsql when npgsql.IsTransient || npgsql.InnerException is System.Net.Sockets.SocketException or IOException or TimeoutException:
                    return true;
                case NpgsqlException { InnerException: null }:
                    return true;
            }
        }
        return false;
    }
}

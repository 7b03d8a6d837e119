using Microsoft.Extensions.Options;

namespace SlmStudio.Web.Options;

public enum DatabaseProvider { Sqlite, PostgreSql }

/// <summary>
/// Which database holds the portal's records and Hangfire's jobs. Section "Studio:Database". SQLite (files under
/// data/, nothing to install) is the default; PostgreSQL lets several portals and workers on other machines share them.
/// </summary>
public sealed class DatabaseOptions
{
    public const string Section = "Studio:Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Npgsql connection string (Host=…;Database=…;Username=…;Password=…); only read for PostgreSql.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// PostgreSQL only. Hangfire.PostgreSql hands a fetched job to another worker once its "fetchedat" time is older than
    /// this; with the sliding timeout a live worker moves that time forward every fifth of it, so only a worker that has
    /// been silent this long (dead, or cut off from the database) loses its job. Our own run lease still stops a
    /// second copy of a training in that case.
    /// </summary>
    public int JobInvisibilityTimeoutSeconds { get; set; } = 300;

    public bool IsPostgreSql => Provider == DatabaseProvider.PostgreSql;

    /// <summary>Reads the section the way the options system binds it, for the registrations that must choose before
    /// the container exists (which DbContext type, which Hangfire storage).</summary>
    public static DatabaseOptions From(IConfiguration configuration)
    {
        try { return configuration.GetSection(Section).Get<DatabaseOptions>() ?? new DatabaseOptions(); }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"The setting {Section} cannot be read: {e.InnerException?.Message ?? e.Message} Provider must be Sqlite or PostgreSql.", e);
        }
    }
}

/// <summary>Refuses to start with a database setting that cannot work, saying which setting to fix.</summary>
public sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var problems = new List<string>();
        if (!Enum.IsDefined(options.Provider))
            problems.Add("Studio:Database:Provider must be Sqlite or PostgreSql.");
        if (options.IsPostgreSql)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
                problems.Add("Studio:Database:Provider is PostgreSql but Studio:Database:ConnectionString is empty. "
                    + "Set it (for example the environment variable Studio__Database__ConnectionString=\"Host=db;Database=slmstudio;Username=slm;Password=...\").");
            else
            {
                try { _ = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString); }
                catch (ArgumentException e) { problems.Add($"Studio:Database:ConnectionString is not a valid PostgreSQL connection string: {e.Message}"); }
            }
        }
        if (options.JobInvisibilityTimeoutSeconds is < 5 or > 86_400)
            problems.Add("Studio:Database:JobInvisibilityTimeoutSeconds must be between 5 and 86400.");
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.Storage.SQLite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web;

/// <summary>
/// The portal's database and Hangfire's job storage, on the provider Studio:Database:Provider names: SQLite files under
/// data/ (the default) or one PostgreSQL database shared by every portal and worker process.
/// </summary>
public static class StudioStorage
{
    public static void AddStudioDatabase(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();

        var database = DatabaseOptions.From(builder.Configuration);
        if (!database.IsPostgreSql)
        {
            services.AddDbContextFactory<StudioDbContext>((sp, db) =>
            {
                var path = sp.GetRequiredService<StudioPaths>().Database;
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                db.UseSqlite($"Data Source={path};Default Timeout=30")
                    // SQLite rebuilds a table with PRAGMA foreign_keys, which cannot run inside a transaction; the file
                    // is copied before any migration runs (StudioHost.BackUpBeforeMigratingAsync), so an interrupted
                    // one can be undone.
                    .ConfigureWarnings(w => w.Ignore(RelationalEventId.NonTransactionalMigrationOperationWarning));
            });
            return;
        }
        // The PostgreSQL context is a subtype (for its own migrations); everything that asks for the SQLite-named
        // type, the factory as well as Identity's scoped store, gets it.
        services.AddDbContextFactory<PostgresStudioDbContext>((sp, db) =>
            PostgresStudioDbContext.Configure(db, sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString!));
        services.AddSingleton<IDbContextFactory<StudioDbContext>>(sp =>
            new UpcastFactory(sp.GetRequiredService<IDbContextFactory<PostgresStudioDbContext>>()));
        services.AddScoped<StudioDbContext>(sp => sp.GetRequiredService<PostgresStudioDbContext>());
    }

    /// <summary>Hangfire's storage: SQLite beside the portal's database, or the portal's PostgreSQL database (schema "hangfire").</summary>
    public static void UseStudioJobStorage(this IGlobalConfiguration config, IServiceProvider sp)
    {
        var database = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (!database.IsPostgreSql)
        {
            var path = sp.GetRequiredService<StudioPaths>().HangfireDatabase;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            config.UseSQLiteStorage(path, new SQLiteStorageOptions { QueuePollInterval = TimeSpan.FromSeconds(1) });
            return;
        }
        config.UsePostgreSqlStorage(c => c.UseNpgsqlConnection(database.ConnectionString), PostgreSqlJobStorageOptions(database));
    }

    /// <summary>
    /// Hangfire.PostgreSql hands a job to another worker when its queue row's "fetchedat" is older than
    /// InvisibilityTimeout (PostgreSqlJobQueue's fetch: fetchedat &lt; NOW() - InvisibilityTimeout). Without the sliding
    /// timeout that time is set once, at fetch, so any training longer than the timeout (default 30 minutes) would be
    /// fetched and started a second time while the first still runs. With UseSlidingInvisibilityTimeout the storage's
    /// heartbeat process moves fetchedat forward every InvisibilityTimeout / 5 for as long as the job is alive
    /// (PostgreSqlFetchedJob.ExecuteKeepAliveQueryIfRequired), so a run of any length keeps its job, and one whose
    /// worker died is handed out again after InvisibilityTimeout. That heartbeat runs in Hangfire servers that are not
    /// "lightweight", which ours never are. If a worker is cut off from the database for longer than the timeout the job
    /// can still be fetched twice; RunLeases then lets only one copy train.
    /// </summary>
    public static PostgreSqlStorageOptions PostgreSqlJobStorageOptions(DatabaseOptions database) => new()
    {
        SchemaName = "hangfire",
        PrepareSchemaIfNecessary = true,
        UseSlidingInvisibilityTimeout = true,
        InvisibilityTimeout = TimeSpan.FromSeconds(database.JobInvisibilityTimeoutSeconds),
        QueuePollInterval = TimeSpan.FromSeconds(1),
    };

    private sealed class UpcastFactory(IDbContextFactory<PostgresStudioDbContext> inner) : IDbContextFactory<StudioDbContext>
    {
        public StudioDbContext CreateDbContext() => inner.CreateDbContext();
        public async Task<StudioDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default) =>
            await inner.CreateDbContextAsync(cancellationToken);
    }
}

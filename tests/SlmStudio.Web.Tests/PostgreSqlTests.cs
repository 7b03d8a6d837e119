using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Text.Json;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>The portal on a real PostgreSQL server (SLM_TEST_POSTGRES), each test on a database of its own.</summary>
public class PostgreSqlTests
{
    private const string Admin = "admin@example.com";

    [PostgresFact]
    public async Task Migrations_apply_on_PostgreSQL_and_match_the_model()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var host = await StudioTestHost.StartAsync(database.Settings());
        await using var db = await host.DbAsync();

        Assert.IsType<PostgresStudioDbContext>(db);
        Assert.Equal("Npgsql.EntityFrameworkCore.PostgreSQL", db.Database.ProviderName);
        var all = db.Database.GetMigrations().ToList();
        Assert.NotEmpty(all);
        Assert.Equal(all, await db.Database.GetAppliedMigrationsAsync());
        // A model change without a PostgreSQL migration (only a SQLite one) fails here.
        Assert.False(db.Database.HasPendingModelChanges(), "The model has changes that no PostgreSQL migration creates: add one (see README, PostgreSQL).");
        // The SQLite migrations are a separate set and were not applied here.
        Assert.DoesNotContain(all, m => m.EndsWith("_Initial", StringComparison.Ordinal));
    }

    [PostgresFact]
    public async Task The_portal_on_PostgreSQL_keeps_people_projects_runs_and_versions_and_queues_jobs_there()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var host = await StudioTestHost.StartAsync(database.Settings(), web: true);

        // Sign-in goes through Identity's tables on PostgreSQL.
        await host.AddUserAsync(Admin, StudioRoles.Administrator);
        using var http = await host.ClientAsync(Admin);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);

        var project = await host.AddProjectAsync("Support answers", ("How do I reset my password?", "reset"));
        var runId = await host.Get<RunScheduler>().StartAsync(project.Id, Admin);

        // Hangfire keeps its jobs in the same PostgreSQL database, schema "hangfire", on the capability queue.
        Assert.IsType<PostgreSqlStorage>(host.Get<JobStorage>());
        TrainingRun run;
        await using (var db = await host.DbAsync()) run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId);
        Assert.Equal(RunStatus.Queued, run.Status);
        Assert.NotNull(run.HangfireJobId);
        Assert.Equal(TrainingQueues.Cpu, await database.ScalarAsync<string>(
            "SELECT queue FROM hangfire.jobqueue WHERE jobid = @id", ("id", long.Parse(run.HangfireJobId!))));

        // A time with an offset is stored as the same instant (PostgreSQL keeps UTC).
        var registeredAt = new DateTimeOffset(2026, 3, 1, 14, 30, 0, TimeSpan.FromHours(2));
        await using (var db = await host.DbAsync())
        {
            db.ModelVersions.Add(new ModelVersion { ProjectId = project.Id, Number = 1, RunId = runId, CreatedAt = registeredAt, CreatedBy = Admin, Folder = "models/p/v1", ValLoss = 2.5 });
            await db.SaveChangesAsync();
        }
        await using (var db = await host.DbAsync())
        {
            var version = await db.ModelVersions.AsNoTracking().SingleAsync(v => v.RunId == runId);
            Assert.Equal(registeredAt.UtcDateTime, version.CreatedAt.UtcDateTime);
            Assert.Equal(2.5, version.ValLoss);
            Assert.Equal("Support answers", (await db.Projects.Include(p => p.GoalTests).SingleAsync(p => p.Id == project.Id)).Name);
        }

        // The projects page's query (joins, counts, aliases) runs on PostgreSQL.
        var summaries = await AsPersonAsync(host, Admin, () => host.Get<ProjectService>().ListAsync());
        var summary = Assert.Single(summaries);
        Assert.Equal((project.Id, 1), (summary.Id, summary.Versions));
    }

    [PostgresFact]
    public async Task Ready_fails_when_the_database_goes_away_while_live_stays_ok()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var host = await StudioTestHost.StartAsync(database.Settings(), web: true);
        using var http = await host.ClientAsync();

        var ready = await http.GetAsync("/health/ready");
        var body = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(["database", "disk", "job-storage"], Checks(body).Keys.Order());
        Assert.All(Checks(body).Values, status => Assert.Equal("Healthy", status));

        await database.DropAsync();

        ready = await http.GetAsync("/health/ready");
        body = await ready.Content.ReadAsStringAsync();
        Assert.True(ready.StatusCode == HttpStatusCode.ServiceUnavailable, body);
        Assert.Equal("Unhealthy", Checks(body)["database"]);
        Assert.Equal("Unhealthy", Checks(body)["job-storage"]);
        Assert.Equal("Healthy", Checks(body)["disk"]);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
    }

    [PostgresFact]
    public async Task A_job_that_outlives_the_invisibility_timeout_is_not_started_again_with_the_portals_storage_settings()
    {
        var outcome = await RunPastInvisibilityTimeoutAsync(sliding: true);
        Assert.Equal(1, outcome.Starts);
        // The storage's heartbeat kept the job claimed: its fetch time moved on while it ran.
        Assert.True(outcome.FetchTimes > 1, $"fetchedat was never renewed ({outcome.FetchTimes} value seen)");
    }

    /// <summary>The control: without the sliding timeout the same job is started a second time by the other worker,
    /// which is what the portal's setting prevents (and proves the test above can fail).</summary>
    [PostgresFact]
    public async Task Without_the_sliding_timeout_a_second_worker_starts_the_same_job_again()
    {
        var outcome = await RunPastInvisibilityTimeoutAsync(sliding: false);
        Assert.Equal(2, outcome.Starts);
    }

    private const int InvisibilitySeconds = 5;

    /// <summary>
    /// Two Hangfire servers (two workers) on one PostgreSQL storage configured as the portal configures it; one job
    /// that stays busy for three invisibility timeouts, measured by the database's clock, or until a second copy starts.
    /// </summary>
    private static async Task<(int Starts, int FetchTimes)> RunPastInvisibilityTimeoutAsync(bool sliding)
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        // The portal's own composition makes the storage (and keeps Hangfire's logging alive while the servers run).
        await using var host = await StudioTestHost.StartAsync(database.Settings(new() { ["Studio:Database:JobInvisibilityTimeoutSeconds"] = $"{InvisibilitySeconds}" }));
        var storage = host.Get<JobStorage>();
        if (!sliding)
        {
            var options = Web.StudioStorage.PostgreSqlJobStorageOptions(new DatabaseOptions { JobInvisibilityTimeoutSeconds = InvisibilitySeconds });
            Assert.True(options.UseSlidingInvisibilityTimeout);
            options.UseSlidingInvisibilityTimeout = false;
            storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(database.ConnectionString, options), options);
        }
        var key = Guid.NewGuid().ToString("N");
        LongJobProbe.Prepare(key);
        var servers = new[] { "worker-a", "worker-b" }.Select(name => new BackgroundJobServer(
            new BackgroundJobServerOptions { ServerName = name, Queues = [TrainingQueues.Cpu], WorkerCount = 1 }, storage)).ToList();
        var fetchTimes = new HashSet<DateTime>();
        try
        {
            var jobId = long.Parse(new BackgroundJobClient(storage).Create(() => LongJobProbe.Run(key), new EnqueuedState(TrainingQueues.Cpu)));
            Assert.True(await LongJobProbe.WaitForStartAsync(key, TimeSpan.FromMinutes(2)), "The job never started");
            var startedAt = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
            while (LongJobProbe.Starts(key) < 2)
            {
                if (await database.ScalarAsync<DateTime?>("SELECT fetchedat FROM hangfire.jobqueue WHERE jobid = @id", ("id", jobId)) is { } fetched)
                    fetchTimes.Add(fetched);
                var elapsed = await database.ScalarAsync<double>("SELECT extract(epoch FROM clock_timestamp() - @start)::float8", ("start", startedAt));
                if (elapsed > 3 * InvisibilitySeconds) break;
                await LongJobProbe.WaitForStartAsync(key, TimeSpan.FromSeconds(1));
            }
            return (LongJobProbe.Starts(key), fetchTimes.Count);
        }
        finally
        {
            LongJobProbe.Release(key);
            foreach (var server in servers) server.SendStop();
            foreach (var server in servers) server.Dispose();
        }
    }

    private static async Task<T> AsPersonAsync<T>(StudioTestHost host, string email, Func<Task<T>> action)
    {
        ClaimsPrincipal principal;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<StudioUser>>();
            var factory = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>();
            principal = await factory.CreateAsync((await users.FindByNameAsync(email))!);
        }
        using (StudioUserContext.Use(principal)) return await action();
    }

    internal static Dictionary<string, string> Checks(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString()!);
    }
}

/// <summary>A Hangfire job that counts its starts and stays busy until the test releases it.</summary>
public static class LongJobProbe
{
    private static readonly ConcurrentDictionary<string, int> StartCounts = new();
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Started = new();
    private static readonly ConcurrentDictionary<string, ManualResetEventSlim> Released = new();

    public static void Prepare(string key)
    {
        Started[key] = new SemaphoreSlim(0);
        Released[key] = new ManualResetEventSlim(false);
    }

    public static void Run(string key)
    {
        StartCounts.AddOrUpdate(key, 1, (_, n) => n + 1);
        Started[key].Release();
        Released[key].Wait(TimeSpan.FromMinutes(5));
    }

    public static int Starts(string key) => StartCounts.GetValueOrDefault(key);
    public static Task<bool> WaitForStartAsync(string key, TimeSpan timeout) => Started[key].WaitAsync(timeout);
    public static void Release(string key) => Released[key].Set();
}

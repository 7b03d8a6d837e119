using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>Progress writes while the database cannot be reached, made deterministic: a factory that fails the way Npgsql
/// fails when the server is down (a socket error) until the test lets it through.</summary>
public class ProgressDuringOutageTests
{
    private sealed class UnreachableWhile(IDbContextFactory<StudioDbContext> inner) : IDbContextFactory<StudioDbContext>
    {
        public bool Down { get; set; }
        public int Refused { get; private set; }

        public StudioDbContext CreateDbContext() => throw new NotSupportedException();

        public Task<StudioDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default)
        {
            if (!Down) return inner.CreateDbContextAsync(cancellationToken);
            Refused++;
            throw new Npgsql.NpgsqlException("Failed to connect to 127.0.0.1:5432", new System.Net.Sockets.SocketException(111));
        }
    }

    [Fact]
    public async Task Events_written_while_the_database_is_down_wait_in_memory_and_reach_it_once_it_is_back()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        int runId;
        await using (var db = await host.DbAsync())
        {
            var run = new TrainingRun { ProjectId = project.Id, Status = RunStatus.Queued, CreatedAt = DateTimeOffset.UtcNow, Preset = "tiny" };
            db.Runs.Add(run);
            await db.SaveChangesAsync();
            runId = run.Id;
        }
        var database = new UnreachableWhile(host.Get<IDbContextFactory<StudioDbContext>>());
        var progress = new RunProgressWriter(database, host.Get<RunNotifier>(), TimeProvider.System, runId, NullLogger.Instance);
        await progress.StartAsync();

        database.Down = true;
        var first = new CheckpointSaved(5);
        var second = new CheckpointSaved(10);
        // The trainer's output keeps being read: the writes return instead of failing the job.
        await progress.WriteAsync(first, first.ToJsonLine());
        await progress.WriteAsync(second, second.ToJsonLine());
        Assert.True(database.Refused >= 2);
        await using (var db = await host.DbAsync()) Assert.Equal(0, await db.RunEvents.CountAsync(e => e.RunId == runId));

        database.Down = false;
        await progress.FlushAsync();
        await using (var db = await host.DbAsync())
            Assert.Equal([first.ToJsonLine(), second.ToJsonLine()], await db.RunEvents.Where(e => e.RunId == runId).OrderBy(e => e.Id).Select(e => e.Json).ToListAsync());
    }

    [Fact]
    public void Only_an_unreachable_PostgreSQL_counts_as_an_outage()
    {
        Assert.True(DatabaseOutage.IsTransient(new Npgsql.NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException(111))));
        Assert.True(DatabaseOutage.IsTransient(new DbUpdateException("save failed", new Npgsql.NpgsqlException("Exception while reading from stream", new EndOfStreamException()))));
        // A locked SQLite file and a bug are not outages: they fail at once, as before.
        Assert.False(DatabaseOutage.IsTransient(new Microsoft.Data.Sqlite.SqliteException("database is locked", 5)));
        Assert.False(DatabaseOutage.IsTransient(new InvalidOperationException("Sequence contains no elements")));
    }
}

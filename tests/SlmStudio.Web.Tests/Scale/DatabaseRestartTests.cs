using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using Xunit.Abstractions;

namespace SlmStudio.Web.Tests.Scale;

public class DatabaseRestartTests(ITestOutputHelper output)
{
    /// <summary>
    /// PostgreSQL restarts (fast shutdown: every connection cut) while a run trains. The training goes on, its progress
    /// waits in memory until the database is back, and it ends registered once, with every trainer event in the database.
    /// </summary>
    [PostgresFact]
    public async Task A_database_restart_mid_run_neither_stops_the_training_nor_loses_its_progress()
    {
        var clock = Stopwatch.StartNew();
        await using var server = await PrivatePostgres.StartAsync();
        await using var host = await StudioTestHost.StartAsync(new()
        {
            ["Studio:Role"] = "Both",
            ["Studio:Database:Provider"] = "PostgreSql",
            ["Studio:Database:ConnectionString"] = server.ConnectionString,
            ["Studio:Queues:Gpu"] = "No",
            // Long enough that the lease outlives the restart on a busy machine; a lost lease would stop the trainer.
            ["Studio:LeaseTimeoutSeconds"] = "60",
        });
        await host.App.StartAsync();
        const int steps = 15;
        var projectId = await ScaleTestKit.AddTextProjectAsync(host, "Restart", steps, evalEvery: 5);
        var runId = await host.Get<RunScheduler>().StartAsync(projectId, "tester");
        var folder = RunFolder.At(host.Get<StudioPaths>().Run(runId));
        var before = await ScaleTestKit.WaitForRunAsync(host, runId, r => r.Status == RunStatus.Running && r.Step >= 5 && folder.HasCheckpoint, TimeSpan.FromMinutes(10));
        Assert.True(before.Step < steps, "the run finished before the restart");

        output.WriteLine($"{clock.Elapsed}: restarting PostgreSQL at step {before.Step}");
        await server.RestartAsync();
        output.WriteLine($"{clock.Elapsed}: PostgreSQL is back");

        var done = await ScaleTestKit.WaitForRunAsync(host, runId, r => r.Status is RunStatus.Succeeded or RunStatus.Failed, TimeSpan.FromMinutes(10));
        output.WriteLine($"{clock.Elapsed}: run {done.Status}");
        // Idle pooled connections that died with the restart would fail the checks below; the run under test is over,
        // so dropping them now helps only the test's own reads.
        Npgsql.NpgsqlConnection.ClearAllPools();
        Assert.True(done.Status == RunStatus.Succeeded, done.Error);
        Assert.Equal(steps, done.Step);
        // The same trainer went on: one start, not a resume.
        Assert.Equal([0], await ScaleTestKit.StartStepsAsync(host, runId));

        // Every event the trainer logged in its run folder is in the database too, once.
        var logged = File.ReadAllLines(folder.MetricsFile).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("event").GetString()!)
            .GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count());
        await using var db = await host.DbAsync();
        var stored = await db.RunEvents.Where(e => e.RunId == runId).GroupBy(e => e.Kind).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count);
        foreach (var (kind, count) in logged) Assert.True(stored.GetValueOrDefault(kind) == count, $"{kind}: {count} in the run folder, {stored.GetValueOrDefault(kind)} in the database");
        Assert.Equal(1, await db.ModelVersions.CountAsync(v => v.RunId == runId));
    }
}

using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Core.Export;
using SlmStudio.Web.Api;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;
using Xunit.Abstractions;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>A measurement, not a check that belongs in every test run: it runs only with SLM_LOAD_TEST=1 (and
/// PostgreSQL, for the worker processes).</summary>
public sealed class LoadFactAttribute : FactAttribute
{
    public LoadFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("SLM_LOAD_TEST") != "1")
            Skip = "A load measurement (about two minutes of full load): run it with SLM_LOAD_TEST=1.";
        else if (string.IsNullOrWhiteSpace(PostgresTestDatabase.ServerConnectionString))
            Skip = $"The load test needs PostgreSQL for its worker processes: set {PostgresTestDatabase.Variable} (run: eval \"$(.ci/postgres-start)\").";
    }
}

/// <summary>
/// Issue 16's load test: one portal answering 50 API users (streaming completions, a key each) for 60 s while two
/// worker processes train. Run it with:
/// <c>SLM_LOAD_TEST=1 dotnet test tests/SlmStudio.Web.Tests -c Release --filter FullyQualifiedName~Scale.LoadTests --logger "console;verbosity=detailed"</c>
/// (SLM_LOAD_USERS and SLM_LOAD_SECONDS change the size).
/// </summary>
public class LoadTests(ITestOutputHelper output)
{
    [LoadFact]
    public async Task Fifty_api_users_stream_completions_from_one_portal_while_two_workers_train_without_errors()
    {
        var users = int.TryParse(Environment.GetEnvironmentVariable("SLM_LOAD_USERS"), out var u) ? u : 50;
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("SLM_LOAD_SECONDS"), out var s) ? s : 60;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var settings = database.Settings(new() { ["Studio:MinimumTrainingCharacters"] = "2000", ["Studio:Queues:Gpu"] = "No" });
        await using var portal = await StudioTestHost.StartAsync(settings, web: true);
        var owner = await portal.AddUserAsync("owner@example.com", StudioRoles.Builder);

        // The model the users call: the tiny Llama fixture, exported and registered as "Load test" version 1.
        int projectId;
        await using (var db = await portal.DbAsync())
        {
            var project = new Project { Name = "Load test", OwnerId = owner.Id };
            db.Projects.Add(project);
            await db.SaveChangesAsync();
            projectId = project.Id;
            db.Runs.Add(new TrainingRun { ProjectId = projectId, CreatedBy = "t" });
            await db.SaveChangesAsync();
        }
        await using (var db = await portal.DbAsync())
        {
            var run = db.Runs.Single(r => r.ProjectId == projectId);
            var staged = Path.Combine(portal.Root, "staged");
            ModelExporter.Export(Path.Combine(Path.GetDirectoryName(StudioHost.FindContentRoot())!, "shared", "fixtures", "tiny-llama-hf"), staged);
            await portal.Get<ModelRegistry>().RegisterAsync(run, staged);
        }
        var keys = new List<string>();
        await using (var scope = portal.Services.CreateAsyncScope())
        {
            var principal = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync(owner);
            using (StudioUserContext.Use(principal))
                for (var i = 0; i < users; i++) keys.Add(await portal.Get<ApiKeyService>().CreateAsync($"user {i}", [projectId], null));
        }

        // Two workers, each training a run that outlasts the measurement.
        var workerSettings = new Dictionary<string, string?>(settings) { ["Studio:Role"] = "Worker", ["Urls"] = "http://127.0.0.1:0" };
        await using var first = StudioProcess.Start(portal.Root, workerSettings);
        await using var second = StudioProcess.Start(portal.Root, workerSettings);
        var scheduler = portal.Get<RunScheduler>();
        var training = new List<int>();
        for (var i = 0; i < 2; i++)
            training.Add(await scheduler.StartAsync(await ScaleTestKit.AddTextProjectAsync(portal, $"Training {i}", steps: 100_000, evalEvery: 50), "tester"));
        foreach (var runId in training)
            await ScaleTestKit.WaitForRunAsync(portal, runId, r => r.Status == RunStatus.Running && r.Step > 0, TimeSpan.FromMinutes(10),
                () => first.Output + "\n" + second.Output);

        var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
        var report = await LoadGenerator.RunAsync(portal.BaseAddress, keys, "load-test:v1", TimeSpan.FromSeconds(seconds));
        var loadAfter = File.ReadAllText("/proc/loadavg").Trim();
        output.WriteLine(report.ToString());
        output.WriteLine($"load average before: {loadBefore}; after: {loadAfter}; {Environment.ProcessorCount} cores");
        foreach (var e in report.ErrorSamples) output.WriteLine($"error: {e}");

        // Both trainings went on meanwhile.
        foreach (var runId in training) Assert.Equal(RunStatus.Running, (await ScaleTestKit.RunAsync(portal, runId)).Status);
        Assert.True(report.Errors == 0, $"{report}\n{string.Join("\n", report.ErrorSamples)}");
        Assert.True(report.Completed > 0, report.ToString());
        foreach (var runId in training) await scheduler.CancelAsync(runId);
    }
}

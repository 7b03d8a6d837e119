using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The portal's real service composition (AddStudioServices) over a fresh folder: a real SQLite database file, real
/// Hangfire SQLite storage, real jobs/ and models/ folders. Web-only role, so no Hangfire server picks jobs up behind
/// the test's back; tests call the jobs themselves.
/// </summary>
public sealed class StudioTestHost : IAsyncDisposable
{
    public string Root { get; }
    public WebApplication App { get; }
    public IServiceProvider Services => App.Services;

    private StudioTestHost(string root, WebApplication app)
    {
        Root = root;
        App = app;
    }

    /// <summary>Keeps the folder (database, jobs, models) on dispose, so a second host can start over it like a restarted portal.</summary>
    public bool KeepFiles { get; set; }

    public static async Task<StudioTestHost> StartAsync(Dictionary<string, string?>? settings = null, string? root = null)
    {
        root ??= Path.Combine(Path.GetTempPath(), "slm-web-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Studio:Role"] = "Web",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:SlmStudio"] = "Information",
            ["Studio:MinimumTrainingCharacters"] = "2000",
            ["Studio:HeartbeatSeconds"] = "1",
            ["Studio:LeaseTimeoutSeconds"] = "5",
            ["Urls"] = "http://127.0.0.1:0",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.AddStudioServices();
        var app = builder.Build();
        await app.MigrateStudioDatabaseAsync();
        // Hangfire's static client needs its storage initialised, as the running portal does on start.
        _ = app.Services.GetRequiredService<JobStorage>();
        // Hangfire keeps process-wide static state whose type initialisers log: run them while this host's logger
        // factory is alive, not later against an already disposed test host's.
        _ = Hangfire.Common.JobFilterProviders.Providers;
        _ = GlobalJobFilters.Filters;
        return new StudioTestHost(root, app);
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public async Task<StudioDbContext> DbAsync() => await Get<IDbContextFactory<StudioDbContext>>().CreateDbContextAsync();

    public async Task<Project> AddProjectAsync(string name = "Test project", params (string Prompt, string MustContain)[] goals)
    {
        await using var db = await DbAsync();
        var p = new Project { Name = name, CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow };
        p.GoalTests.AddRange(goals.Select(g => new GoalTest { Prompt = g.Prompt, MustContain = g.MustContain }));
        db.Projects.Add(p);
        await db.SaveChangesAsync();
        return p;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (KeepFiles) return;
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

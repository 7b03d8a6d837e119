using System.Security.Claims;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>Issue 13: code that does not say for whom it runs sees nothing and may change nothing (fail closed).</summary>
public sealed class FailClosedContextTests
{
    [Fact]
    public async Task Code_without_a_person_or_the_system_sees_no_project_and_may_change_nothing()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync("Secret");
        var projects = host.Get<ProjectService>();
        Assert.Single(await projects.ListAsync()); // as the system, which tests and background jobs say they are

        // A thread that carries no context at all, as a job or a timer that forgot to say who it runs for.
        Task<List<ProjectSummary>> list;
        Task<bool> administrator;
        Task save;
        using (ExecutionContext.SuppressFlow())
        {
            list = Task.Run(() => projects.ListAsync());
            administrator = Task.Run(() => StudioUserContext.IsAdministrator || StudioUserContext.CanBuild || StudioUserContext.IsSystem);
            save = Task.Run(() => projects.SaveAsync(project, 1));
        }
        Assert.Empty(await list);
        Assert.False(await administrator);
        Assert.Contains("You do not have access", (await Assert.ThrowsAsync<UserFacingException>(() => save)).Message);
        Assert.Equal("system", StudioUserContext.Name);
    }

    [Fact]
    public async Task A_page_hears_a_background_update_as_the_person_who_opened_it()
    {
        var notifier = new RunNotifier(Microsoft.Extensions.Logging.Abstractions.NullLogger<RunNotifier>.Instance);
        var heard = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var person = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "viewer@example.com")], "test"));
        using (StudioUserContext.Use(person))
        using (notifier.Subscribe(5, _ => { heard.TrySetResult(StudioUserContext.Current?.Identity?.Name); return Task.CompletedTask; }))
        {
            using (StudioUserContext.UseSystem()) notifier.Publish(new RunUpdate(5, null, RunStatus.Running)); // the training job publishes
            Assert.Equal("viewer@example.com", await heard.Task.WaitAsync(TimeSpan.FromMinutes(1)));
        }
    }
}

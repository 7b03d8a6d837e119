using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SlmStudio.Web.Api;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Tests;

/// <summary>Issue 13: the public API is described as OpenAPI, and the /api endpoints take the same keys as /v1.</summary>
public sealed class OpenApiDescriptionTests
{
    [Fact]
    public async Task The_public_api_is_described_without_sign_in_and_pages_are_not_part_of_it()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        using var anonymous = await host.ClientAsync();
        var response = await anonymous.GetAsync(OpenApiDescription.DocumentPath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString());
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/v1/models", paths);
        Assert.Contains("/v1/completions", paths);
        Assert.Contains("/v1/chat/completions", paths);
        Assert.Contains("/api/projects/{id}/ask", paths);
        Assert.Contains("/api/versions/{id}/download", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/account", StringComparison.Ordinal) || p.StartsWith("/hangfire", StringComparison.Ordinal));
        var chat = document.RootElement.GetProperty("paths").GetProperty("/v1/chat/completions").GetProperty("post");
        Assert.Contains("conversation", chat.GetProperty("summary").GetString());
    }

    [Fact]
    public async Task An_api_key_reaches_the_ask_endpoint_of_its_project_only()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        var owner = await host.AddUserAsync("owner@example.com", StudioRoles.Builder);
        var mine = await host.AddProjectAsync("Mine");
        var other = await host.AddProjectAsync("Other");
        await using (var db = await host.DbAsync())
        {
            foreach (var p in db.Projects) p.OwnerId = owner.Id;
            await db.SaveChangesAsync();
        }
        await using var scope = host.Services.CreateAsyncScope();
        var principal = await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IUserClaimsPrincipalFactory<StudioUser>>().CreateAsync(owner);
        string key;
        using (StudioUserContext.Use(principal)) key = await host.Get<ApiKeyService>().CreateAsync("bot", [mine.Id], null);
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        // The key signs in: its project answers (400: it has no frozen documents yet), the other project does not exist for it.
        var own = await http.PostAsJsonAsync($"/api/projects/{mine.Id}/ask", new { question = "holiday" });
        Assert.Equal(HttpStatusCode.BadRequest, own.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsJsonAsync($"/api/projects/{other.Id}/ask", new { question = "holiday" })).StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "slm_00000000_wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync($"/api/projects/{mine.Id}/ask", new { question = "holiday" })).StatusCode);
    }
}

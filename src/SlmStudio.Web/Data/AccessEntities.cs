using Microsoft.AspNetCore.Identity;

namespace SlmStudio.Web.Data;

/// <summary>A person who signs in to the portal. The user name is their e-mail address.</summary>
public sealed class StudioUser : IdentityUser
{
    public string DisplayName { get; set; } = "";
}

/// <summary>A person besides the owner who may see a project.</summary>
public sealed class ProjectMember
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    public required string UserId { get; set; }
    public DateTimeOffset AddedAt { get; set; }
}

/// <summary>
/// A key that other programs send as <c>Authorization: Bearer</c>. Only a SHA-256 hash of the secret is stored; the
/// prefix (the first characters, not secret) finds the row without scanning every hash.
/// </summary>
public sealed class ApiKey
{
    public int Id { get; set; }
    public required string UserId { get; set; }
    public required string Name { get; set; }
    public required string Prefix { get; set; }
    public required string SecretHash { get; set; }
    /// <summary>Comma-separated project ids the key may reach; the owner's access still applies on top.</summary>
    public string ProjectIds { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }

    public IReadOnlyList<int> ProjectIdList() =>
        ProjectIds.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
}

/// <summary>Who did what and when; keeps the fact of an action, never the data it touched.</summary>
public sealed class AuditEntry
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public string UserName { get; set; } = "";
    public required string Action { get; set; }
    /// <summary>The project the action concerned, for the audit page's filter; null for actions outside projects
    /// (sign-in, people, keys). No foreign key: the entry outlives the project it tells about.</summary>
    public int? ProjectId { get; set; }
    public string Detail { get; set; } = "";
}

from django.contrib import admin

from .models import Deployment, Identity, Platform, ToolKey


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 1


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "issuer", "client_id", "institution", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "issuer", "client_id")
    inlines = [DeploymentInline]


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("platform", "subject", "user", "last_launch_at")
    raw_id_fields = ("user",)


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "is_active", "created_at")
    exclude = ("private_key_pem",)

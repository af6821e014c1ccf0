/** Admin routes (the admin role): products and categories, stock, every customer's orders, delivery slots, roles. */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import {
  Category,
  CategoryId,
  CategoryNotFound,
  CreateProductRequest,
  DuplicateCategory,
  DuplicateSku,
  InvalidProduct,
  Product,
  ProductNotFound,
  ProductVersionConflict,
  UpdateProductRequest,
} from "../../../rpc/catalog.ts"
import { Sku, UserId } from "../../../rpc/common.ts"
import { CreateSlotRequest, CreateZoneRequest, Slot, Zone, ZoneNotFound } from "../../../rpc/delivery.ts"
import {
  AdjustRequest,
  ConcurrencyConflict,
  InvalidAdjustment,
  RestockRequest,
  StockItem,
  UnknownSku,
} from "../../../rpc/inventory.ts"
import { InvalidOrderTransition, Order, OrderNotFound } from "../../../rpc/order.ts"
import { Role, User, UserNotFound } from "../../../rpc/user.ts"
import { ProductPath } from "./catalog.ts"
import { OrderListQuery, OrderPath } from "./orders.ts"
import { AdminOnly } from "./security.ts"

export const UpdateProductBody = UpdateProductRequest.omit("id")
export const CategoryBody = Schema.Struct({
  name: Schema.Trimmed.pipe(Schema.nonEmptyString(), Schema.maxLength(200)),
  parentId: Schema.optionalWith(Schema.NullOr(CategoryId), { exact: true }),
})
export const SkuPath = Schema.Struct({ sku: Sku })
export const RestockBody = RestockRequest.omit("sku")
export const AdjustBody = AdjustRequest.omit("sku")
export const AdminOrderQuery = Schema.Struct({ userId: UserId, ...OrderListQuery.fields })
export const RolePath = Schema.Struct({ userId: UserId, role: Role })

export class AdminApi extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.post("createProduct", "/admin/products")
      .setPayload(CreateProductRequest)
      .addSuccess(Product, { status: 201 })
      .addError(DuplicateSku, { status: 409 })
      .addError(CategoryNotFound, { status: 404 })
      .addError(InvalidProduct, { status: 422 }),
  )
  .add(
    HttpApiEndpoint.patch("updateProduct", "/admin/products/:id")
      .setPath(ProductPath)
      .setPayload(UpdateProductBody)
      .addSuccess(Product)
      .addError(ProductNotFound, { status: 404 })
      .addError(CategoryNotFound, { status: 404 })
      .addError(ProductVersionConflict, { status: 409 })
      .addError(DuplicateSku, { status: 409 })
      .addError(InvalidProduct, { status: 422 }),
  )
  .add(
    HttpApiEndpoint.post("createCategory", "/admin/categories")
      .setPayload(CategoryBody)
      .addSuccess(Category, { status: 201 })
      .addError(CategoryNotFound, { status: 404 })
      .addError(DuplicateCategory, { status: 409 }),
  )
  .add(
    HttpApiEndpoint.get("getStock", "/admin/inventory/:sku")
      .setPath(SkuPath)
      .addSuccess(StockItem)
      .addError(UnknownSku, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.post("restock", "/admin/inventory/:sku/restock")
      .setPath(SkuPath)
      .setPayload(RestockBody)
      .addSuccess(StockItem)
      .addError(ConcurrencyConflict, { status: 409 }),
  )
  .add(
    HttpApiEndpoint.post("adjustStock", "/admin/inventory/:sku/adjust")
      .setPath(SkuPath)
      .setPayload(AdjustBody)
      .addSuccess(StockItem)
      .addError(UnknownSku, { status: 404 })
      .addError(InvalidAdjustment, { status: 422 })
      .addError(ConcurrencyConflict, { status: 409 }),
  )
  .add(HttpApiEndpoint.get("listOrders", "/admin/orders").setUrlParams(AdminOrderQuery).addSuccess(Schema.Array(Order)))
  .add(
    HttpApiEndpoint.get("getOrder", "/admin/orders/:id")
      .setPath(OrderPath)
      .addSuccess(Order)
      .addError(OrderNotFound, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.post("shipOrder", "/admin/orders/:id/ship")
      .setPath(OrderPath)
      .addSuccess(Order)
      .addError(OrderNotFound, { status: 404 })
      .addError(InvalidOrderTransition, { status: 409 }),
  )
  .add(
    HttpApiEndpoint.post("createZone", "/admin/delivery/zones")
      .setPayload(CreateZoneRequest)
      .addSuccess(Zone, { status: 201 }),
  )
  .add(
    HttpApiEndpoint.post("createSlot", "/admin/delivery/slots")
      .setPayload(CreateSlotRequest)
      .addSuccess(Slot, { status: 201 })
      .addError(ZoneNotFound, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.put("grantRole", "/admin/users/:userId/roles/:role")
      .setPath(RolePath)
      .addSuccess(User)
      .addError(UserNotFound, { status: 404 }),
  )
  .add(
    HttpApiEndpoint.del("revokeRole", "/admin/users/:userId/roles/:role")
      .setPath(RolePath)
      .addSuccess(User)
      .addError(UserNotFound, { status: 404 }),
  )
  .middleware(AdminOnly) {}
